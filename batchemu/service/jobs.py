"""placeholder"""

HANDLERS: dict = {}
