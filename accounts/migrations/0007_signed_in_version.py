from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_organisation_synthetic_for_conformance"),
    ]

    operations = [
        migrations.CreateModel(
            name="SignedInVersion",
            fields=[
                ("user_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
    ]
