from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

# The recorder's capture (actions, console and network logs, element snapshots) moves out of
# the recordings table into one of its own, so that reading a recording's row never reads it.

class Migration(migrations.Migration):
    dependencies = [('models', '0002_analyses')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RecordingCapture',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('recording', fields.OneToOneField('models.Recording', source_field='recording_id', db_constraint=True, to_field='id', related_name='capture', on_delete=OnDelete.CASCADE)),
                ('actions', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('browser_state', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('elements', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'recording_captures', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What the recorder captured beside the video: actions, console and network logs, DOM element snapshots.'},
            bases=['Model'],
        ),
        ops.RunSQL(
            "INSERT INTO recording_captures (recording_id, actions, browser_state, elements) "
            "SELECT id, actions, browser_state, elements FROM recordings",
            reverse_sql=(
                "UPDATE recordings r SET actions = c.actions, browser_state = c.browser_state, "
                "elements = c.elements FROM recording_captures c WHERE c.recording_id = r.id"
            ),
        ),
        ops.RemoveField(model_name='Recording', name='actions'),
        ops.RemoveField(model_name='Recording', name='browser_state'),
        ops.RemoveField(model_name='Recording', name='elements'),
    ]
