from django.db import migrations, models


def split_notices(apps, schema_editor):
    """`error` held failure reasons and notices alike: only a failed job's text is a failure."""
    SearchJob = apps.get_model("searches", "SearchJob")
    noticed = SearchJob.objects.exclude(status="failed").exclude(error="")
    noticed.update(notice=models.F("error"))
    noticed.update(error="")


def join_notices(apps, schema_editor):
    SearchJob = apps.get_model("searches", "SearchJob")
    SearchJob.objects.exclude(notice="").filter(error="").update(error=models.F("notice"))


def cancelled_files(apps, schema_editor):
    """Files of a cancelled search were "skipped" with the error "Cancelled"; now they have a status."""
    SearchFile = apps.get_model("searches", "SearchFile")
    SearchFile.objects.filter(status="skipped", error="Cancelled").update(status="cancelled", error="")


def skipped_files(apps, schema_editor):
    SearchFile = apps.get_model("searches", "SearchFile")
    SearchFile.objects.filter(status="cancelled").update(status="skipped", error="Cancelled")


class Migration(migrations.Migration):

    dependencies = [
        ('searches', '0003_searchfile_vehicles_seen'),
    ]

    operations = [
        migrations.AddField(
            model_name='searchjob',
            name='notice',
            field=models.TextField(blank=True, help_text='What the search is doing or did (preparing, resumed, unreadable files)'),
        ),
        migrations.AlterField(
            model_name='searchjob',
            name='error',
            field=models.TextField(blank=True, help_text='Why the search failed'),
        ),
        migrations.RunPython(split_notices, join_notices),
        migrations.AlterField(
            model_name='searchfile',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('skipped', 'Skipped'), ('cancelled', 'Cancelled')], default='pending', max_length=10),
        ),
        migrations.RunPython(cancelled_files, skipped_files),
    ]
