"""Publish: the model card, the preview picture and the push to the Hugging Face Hub."""
