"""Incident notifications: one :class:`Notification`, rendered per channel (Slack Block Kit,
multipart email, PagerDuty Events API v2, a Teams Adaptive Card, a templated webhook) and sent
by a :class:`Dispatcher` through each channel's resilience pipeline."""

from buttress.incidents.notify.channel import Channel, DeliveryError
from buttress.incidents.notify.dispatch import Delivery, Dispatcher, build_channel, default_pipeline
from buttress.incidents.notify.message import KINDS, Kind, Notification, Recipient

__all__ = [
    "KINDS",
    "Channel",
    "Delivery",
    "DeliveryError",
    "Dispatcher",
    "Kind",
    "Notification",
    "Recipient",
    "build_channel",
    "default_pipeline",
]
