"""The ambassador: rate-limit permits per integration, by priority class.

``limits``     the platforms' limit models (pure state machines, exact integer time);
``policies``   lanes of limits per platform, defaults and settings overrides;
``scheduler``  who gets which permit when (theory of operation at its top);
``protocol``   the entity operations' JSON models and entity key conventions;
``headers``    platform responses -> ``ObserveRequest`` readings.
"""
