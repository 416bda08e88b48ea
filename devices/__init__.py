"""Device drivers and simulators: ESC/POS printers, the Concert card terminal, the rating keypad.

Nothing here imports edge, ui or sync: drivers take bytes and parameters and return results or
raise `devices.errors.DeviceError` (with a Vietnamese and an English message). Edge defines the
ports it uses (`edge.ports`) and the composition root picks a driver or a simulator from the
box's settings. Device addresses are URLs (`devices.urls`).
"""
