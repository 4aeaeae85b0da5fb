"""Re-normalise stored plugin settings: typed values, upper-case methods, defaults filled."""

from django.db import migrations


def normalise_settings(apps, schema_editor):
    from plugins.validation import renormalised_settings

    PluginConfig = apps.get_model("plugins", "PluginConfig")
    for config in PluginConfig.objects.iterator():
        settings = renormalised_settings(config.name, config.settings)
        if settings is not None and settings != config.settings:
            config.settings = settings
            config.save(update_fields=["settings"])


class Migration(migrations.Migration):
    dependencies = [("plugins", "0001_initial")]

    operations = [migrations.RunPython(normalise_settings, migrations.RunPython.noop)]
