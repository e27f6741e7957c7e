"""The badge domain: value objects, validation, permission levels and the BadgeService.

Nothing here imports discord, sqlalchemy or fastapi; adapters translate to and from it.
"""
