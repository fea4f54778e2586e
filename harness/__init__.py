"""Driving real windows from outside, as a person would: shared by tests/, bench/ and scripts/.

- `harness.window`: `python -m harness.window URL` opens one offscreen pywebview Qt window.
- `harness.cdp`: a small DevTools-protocol client to click, type and read in it.
- `harness.ports`: a free loopback port for the DevTools endpoint.
"""
