from django.apps import AppConfig


class MeshConfig(AppConfig):
    name = "mesh"
    verbose_name = "MESH"
    default_auto_field = "django.db.models.BigAutoField"
