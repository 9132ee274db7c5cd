"""A WSGI application that crashes with the request's query string in its exception, as a
failure anywhere below Django's own error handling would: what gunicorn's error log sees."""


def application(environ, start_response):
    raise RuntimeError(f"could not serve {environ['PATH_INFO']}?{environ['QUERY_STRING']}")
