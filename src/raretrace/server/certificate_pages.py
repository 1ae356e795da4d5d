"""A certificate from a lot's page: the printable page (view) and the signed credential as a file
(download), each for a caller who may see it, as ``GET /api/v1/certificates/{id}`` answers it
(docs/security.md): an operator sees a certificate that names one of its lots, and not at all one that
also names another participant's lots (the credential is withheld; the page says so).

The registry keeps the credential as issued, with its concealed fields' digests only (the values are
the holder's disclosures), so the view shows those fields as concealed and the download verifies
with ``raretrace verify`` as it is."""

from __future__ import annotations

import json
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from raretrace.certify.render import render_html
from raretrace.errors import RaretraceError
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.server.api_certificates import certificate_for
from raretrace.server.deps import RegistryDep, WebCaller

router = APIRouter(include_in_schema=False)


def view_href(number: str) -> str:
    return "/certificates/" + quote(number, safe="")


def download_href(number: str) -> str:
    return view_href(number) + "/download"


def _presentation(registry: Registry, caller: Principal, number: str) -> tuple[dict[str, object], str]:
    """The certificate as ``{credential, disclosures}`` (no disclosures: the registry holds none),
    or the reason it is withheld from this caller."""
    shown = certificate_for(registry, caller, number)
    credential = shown.get("credential")
    if not isinstance(credential, dict):
        return {}, str(shown.get("credential_withheld", "withheld"))
    return {"credential": credential, "disclosures": []}, ""


@router.get("/certificates/{number}", response_class=HTMLResponse)
def view(number: str, registry: RegistryDep, caller: WebCaller) -> Response:
    from raretrace.server.web import PAGE_HEADERS, error_page, page

    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    try:
        presentation, withheld = _presentation(registry, caller, number)
        if withheld:
            return page("certificate_withheld.html", caller, number=number, reason=withheld, status=403)
        html = render_html(presentation)
    except RaretraceError as e:
        return error_page(caller, e)
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/certificates/{number}/download")
def download(number: str, registry: RegistryDep, caller: WebCaller) -> Response:
    from raretrace.server.web import PAGE_HEADERS, error_page, page

    if caller.id is None:
        return RedirectResponse("/login", status_code=303)
    try:
        presentation, withheld = _presentation(registry, caller, number)
    except RaretraceError as e:
        return error_page(caller, e)
    if withheld:
        return page("certificate_withheld.html", caller, number=number, reason=withheld, status=403)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in number) or "certificate"
    return Response(
        json.dumps(presentation, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}.json"'},
    )
