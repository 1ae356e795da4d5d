"""The registry server (issue 7): a FastAPI app over the ledger services, with roles and a web UI.

An outer layer: route handlers parse the request, check who may do it (``access``), call one ledger
service and shape the answer. The business rules live in ``raretrace.ledger`` and below.
"""
