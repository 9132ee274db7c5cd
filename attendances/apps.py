from django.apps import AppConfig


class AttendancesConfig(AppConfig):
    name = "attendances"
