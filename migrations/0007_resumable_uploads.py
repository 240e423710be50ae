from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise import fields

# Videos that arrive in pieces (the tus protocol): how far each has come.

class Migration(migrations.Migration):
    dependencies = [('models', '0003_recording_captures')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ResumableUpload',
            fields=[
                ('id', fields.CharField(primary_key=True, max_length=64)),
                ('recording', fields.ForeignKeyField('models.Recording', source_field='recording_id', db_constraint=True, to_field='id', related_name='resumable_uploads', on_delete=OnDelete.CASCADE)),
                ('length', fields.BigIntField()),
                ('offset', fields.BigIntField(default=0)),
                ('content_type', fields.CharField(max_length=255)),
                ('artifact_id', fields.CharField(max_length=64)),
                ('object_key', fields.CharField(max_length=512)),
                ('backend_id', fields.CharField(null=True, max_length=1024)),
                ('parts', fields.JSONField(default=list)),
                ('busy_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'resumable_uploads', 'app': 'models', 'indexes': [Index(fields=('expires_at',), name='resumable_uploads_expires_idx')], 'pk_attr': 'id', 'table_description': 'A video arriving in pieces (tus).'},
            bases=['Model'],
        ),
    ]
