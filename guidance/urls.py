from django.urls import path

from guidance import views

app_name = "guidance"

urlpatterns = [
    path("<slug:slug>/", views.page, name="page"),
]
