"""Composition root: the Functions app registers every blueprint and does nothing else
(besides quieting httpx, whose INFO lines carry full URLs, presigned report links among
them: secrets never reach a log)."""

import logging

import azure.durable_functions as df
import azure.functions as func

from activities import BLUEPRINTS as ACTIVITIES
from entities import BLUEPRINTS as ENTITIES
from orchestrators import BLUEPRINTS as ORCHESTRATORS
from triggers import BLUEPRINTS as TRIGGERS

logging.getLogger("httpx").setLevel(logging.WARNING)

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (*TRIGGERS, *ORCHESTRATORS, *ACTIVITIES, *ENTITIES):
    app.register_functions(blueprint)
