"""Marketplace sandboxes: simulators of the Amazon, Shopify, eBay, Etsy and Quiltt APIs.

Independent of the code they test: nothing here imports the app (``function_app``,
``orchestrators``, ``activities``, ``entities``, ``shared``). The sandbox speaks HTTP and
keeps its own data model, so a connector bug cannot hide behind the same bug here.

Layout:
    clock.py       the Clock protocol (shared with devhost's virtual clock), wall and manual clocks
    scenario.py    presets (tiny, reference, multi): clients, history span, volumes, seeds
    faults.py      seeded, reproducible fault decisions per platform
    accounting.py  calls per endpoint, 429s served, faults injected
    world.py       one simulated world: every platform's data, limits and ASGI app
    <platform>/    data generator, limit model, Starlette app, ground truth
"""
