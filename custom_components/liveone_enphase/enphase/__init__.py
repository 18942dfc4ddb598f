"""Async client for the Enphase Monitoring API v4 (aiohttp only, no Home Assistant)."""
