"""``tweettwin eval``: how close a twin's voice is to the real posts, how much it copies.

    from tweettwin.evaluate.core import check_inputs
    from tweettwin.evaluate.model import evaluate
    scores = evaluate(check_inputs("me/model"), samples=200)   # the eval.json object

Modules: ``style`` (post features, pure), ``metrics`` (Fréchet and kernel distances, classifier AUC,
diversity, copies; numpy/scikit-learn), ``embed`` (which embedding), ``core`` (input checks,
scoring any posts), ``model`` (a model folder; torch inside), ``report`` (report.html).
Importing this package imports no torch.
"""
