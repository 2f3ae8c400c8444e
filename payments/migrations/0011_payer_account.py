from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0010_match_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="payer_account",
            field=models.CharField(
                blank=True,
                default="",
                help_text="The payer's account as the bank file gives it (an IBAN or account "
                "number, upper case without spaces); matching learns it like the payer's name",
                max_length=64,
            ),
        ),
    ]
