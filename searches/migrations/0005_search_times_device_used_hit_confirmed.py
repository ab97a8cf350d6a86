from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('searches', '0004_notice_apart_from_error'),
    ]

    operations = [
        migrations.AddField(
            model_name='searchjob',
            name='elapsed_s',
            field=models.FloatField(default=0.0, help_text='Seconds spent searching (not queued or paused)'),
        ),
        migrations.AddField(
            model_name='searchfile',
            name='elapsed_s',
            field=models.FloatField(default=0.0, help_text='Seconds spent searching this file, all passes'),
        ),
        migrations.AddField(
            model_name='searchfile',
            name='speed_fps',
            field=models.FloatField(blank=True, help_text='Frames per second of its latest pass', null=True),
        ),
        migrations.AddField(
            model_name='searchjob',
            name='ran_on',
            field=models.CharField(blank=True, choices=[('cpu', 'CPU'), ('cuda', 'GPU (CUDA)')], max_length=8),
        ),
        migrations.AddField(
            model_name='searchjob',
            name='device_fallback',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='hit',
            name='confirmed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
