from django.shortcuts import render


def bad_request(request, exception=None):
    return render(request, "errors/400.jinja", status=400)


def permission_denied(request, exception=None):
    return render(request, "errors/403.jinja", status=403)


def page_not_found(request, exception=None):
    return render(request, "errors/404.jinja", status=404)


def server_error(request):
    return render(request, "errors/500.jinja", status=500)
