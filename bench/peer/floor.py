"""Not a peer function: the Python floor. A handler that imports nothing, so
its init is the interpreter and bootstrap.py alone, before any boto3."""


def handler(event, context):
    return event
