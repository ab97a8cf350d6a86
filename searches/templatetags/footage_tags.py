"""Template helpers of the footage pages."""
from django import template

from searches.footage.register import default_label

register = template.Library()


@register.filter
def register_label(sighting) -> str:
    """The label a vehicle registered from this sighting gets unless its user types another."""
    return default_label(sighting)
