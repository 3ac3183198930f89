"""``tweettwin serve``: one FastAPI process serving the page, the jobs API and an OpenAI-compatible
``/v1`` API. Only :func:`tweettwin.web.app.create_app` is public; fastapi is imported here, never
at CLI start-up (``tweettwin --help`` stays light)."""
