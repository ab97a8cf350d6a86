"""Create the first admin account unless one exists; prints the credentials it made."""
import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser from VREID_ADMIN_USER / VREID_ADMIN_PASSWORD (password generated if unset)."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("VREID_ADMIN_USER", "admin")
        password = os.environ.get("VREID_ADMIN_PASSWORD", "")
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            if password:
                existing.set_password(password)
                existing.save(update_fields=["password"])
                self.stdout.write(f"Admin account '{username}': password set from VREID_ADMIN_PASSWORD.")
            else:
                self.stdout.write(f"Admin account '{username}' exists.")
            return
        if User.objects.filter(is_superuser=True).exists() and "VREID_ADMIN_USER" not in os.environ:
            self.stdout.write("An admin account exists.")
            return
        generated = not password
        password = password or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Created admin account  user: {username}  password: {password}"))
        if generated:
            path = settings.VAR_DIR / "admin-credentials.txt"
            path.write_text(f"user: {username}\npassword: {password}\n")
            path.chmod(0o600)
            self.stdout.write(f"(also saved to {path}; change it in the admin)")
