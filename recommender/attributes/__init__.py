"""Typed item attributes at serving time: numpy columns per attribute and the filters that test them."""
