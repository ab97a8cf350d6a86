"""Fill a (throwaway) database with many vehicles for load tests and benchmarks.

    python manage.py seed_gallery --vehicles 10000 --user loadtest

Each vehicle gets one photo: a small generated JPEG (written once per photo, used as image and
crop) and a random unit embedding tagged with the configured embedder's name and dimension, so
that searches build a real Faiss index over them. Rows go in with bulk_create in batches.
Not for production databases: it only adds rows, but thousands of them.
"""
import uuid

import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django.db import transaction

from engine import api
from gallery.models import Vehicle, VehiclePhoto

BATCH = 1000


def _embedder_name_and_dim(name: str | None, dim: int | None) -> tuple[str, int]:
    """The embedder the app would use (registry default or VREID_EMBEDDER), without loading it."""
    from django.conf import settings

    if name and dim:
        return name, dim
    spec = api.resolve_embedder(name or settings.VREID_EMBEDDER or None)
    return spec.name, int(dim or spec.dim)


def _thumbnail(rng: np.random.Generator, size: int = 64) -> bytes:
    """A coloured square with a dark "car body": enough for pages to show something."""
    image = np.full((size, size, 3), rng.integers(0, 256, 3), np.uint8)
    image[size // 3:size - size // 5, size // 6:size - size // 6] = 30
    return api.encode_jpeg(image, quality=70)


class Command(BaseCommand):
    help = "Create a user (if needed) with N vehicles, one photo each (load tests / benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--vehicles", type=int, default=10000)
        parser.add_argument("--user", default="loadtest")
        parser.add_argument("--password", default="", help="set this password (new users: unusable if empty)")
        parser.add_argument("--embedder", default="", help="embedder name stored with the vectors")
        parser.add_argument("--dim", type=int, default=0, help="vector dimension (default: the embedder's)")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **options):
        count = options["vehicles"]
        if count < 0 or count > 1_000_000:
            raise ValueError("--vehicles must be between 0 and 1,000,000")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=options["user"])
        if options["password"]:
            user.set_password(options["password"])
            user.save()
        elif created:
            user.set_unusable_password()
            user.save()
        embedder, dim = _embedder_name_and_dim(options["embedder"] or None, options["dim"] or None)
        rng = np.random.default_rng(options["seed"])
        start = Vehicle.objects.filter(owner=user).count()
        made = 0
        while made < count:
            n = min(BATCH, count - made)
            with transaction.atomic():
                vehicles = Vehicle.objects.bulk_create(
                    [Vehicle(owner=user, label=f"Vehicle {start + made + i + 1:06d}") for i in range(n)]
                )
                if any(v.pk is None for v in vehicles):  # backends without RETURNING ids
                    vehicles = list(Vehicle.objects.filter(owner=user).order_by("-pk")[:n])[::-1]
                vectors = rng.standard_normal((n, dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                photos = []
                for vehicle, vector in zip(vehicles, vectors):
                    name = default_storage.save(
                        f"gallery/crops/user_{user.pk}/{uuid.uuid4().hex}.jpg", ContentFile(_thumbnail(rng))
                    )
                    photo = VehiclePhoto(vehicle=vehicle, box=[0, 0, 64, 64], image=name, crop=name)
                    photo.set_vector(vector, embedder)
                    photos.append(photo)
                VehiclePhoto.objects.bulk_create(photos)
            made += n
        self.stdout.write(f"user {user.username} (id {user.pk}): added {made} vehicles, "
                          f"{start + made} in all; embedder {embedder}, dim {dim}")
