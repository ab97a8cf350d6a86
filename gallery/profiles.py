"""What a search knows of each vehicle besides its vectors: its colour and type (the mean over its
photos) and its negative examples (views the user rejected), for the engine's matching rules."""
import numpy as np

from engine import api
from gallery.engine_cache import embedder_name
from gallery.models import NegativeExample, VehiclePhoto


def vehicle_profiles(vehicle_ids, engine) -> dict[int, "api.VehicleProfile"]:
    """{vehicle id: VehicleProfile} for these vehicles (two queries)."""
    vehicle_ids = list(vehicle_ids)
    attributes: dict[int, list] = {}
    for vehicle_id, data in VehiclePhoto.objects.filter(vehicle_id__in=vehicle_ids).values_list("vehicle_id", "attributes"):
        attributes.setdefault(vehicle_id, []).append(api.Attributes.from_dict(data))
    negatives: dict[int, list] = {}
    rows = NegativeExample.objects.filter(
        vehicle_id__in=vehicle_ids, embedder=embedder_name(engine), dim=engine.embedder.dim,
    ).values_list("vehicle_id", "embedding")
    for vehicle_id, blob in rows:
        negatives.setdefault(vehicle_id, []).append(np.frombuffer(bytes(blob), dtype=np.float32))
    return {
        vehicle_id: api.VehicleProfile(
            attributes=api.Attributes.mean(attributes.get(vehicle_id, [])),
            negatives=np.stack(negatives[vehicle_id]) if vehicle_id in negatives else np.zeros((0, 0), np.float32),
        )
        for vehicle_id in vehicle_ids
    }
