"""Webhook URLs may not reach loopback, link-local, private or reserved addresses (unless
STEWARD_WEBHOOK_ALLOW_PRIVATE): refused with 400 when saved, and checked again after DNS resolution at every
delivery, connecting only to the checked address and never following a redirect."""

from __future__ import annotations

import socket

import pytest

from governance.labeling import egress
from governance.labeling.models import Webhook, WebhookDelivery
from tests.factories import items_csv
from tests.labeling.test_webhooks import _complete_one_task

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:
    """A fake DNS: names in the dict resolve to its addresses (changeable mid-test); lookups are counted."""
    table: dict[str, list[str]] = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            lookups.append(host)
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]
            ]
        if isinstance(host, str) and host.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)
    table["_lookups"] = lookups  # type: ignore[assignment]
    return table


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://100.64.0.1/hook", "non-public"),
        ("http://internal.test/hook", "resolves to private address 10.0.0.7"),
        ("http://mixed.test/hook", "resolves to loopback address 127.0.0.1"),
        ("http://nowhere.test/hook", "does not resolve"),
        ("ftp://hooks.example.com/", "http(s)"),
        ("file:///etc/passwd", "valid URL"),
    ],
)
@pytest.mark.django_db
def test_saving_a_url_that_reaches_a_non_public_address_is_refused_with_400_naming_it(
    upload, make_project, steward_api, dns, url, problem
):
    dns["internal.test"] = ["10.0.0.7"]
    dns["mixed.test"] = ["93.184.216.34", "127.0.0.1"]  # one bad address refuses the name
    project = make_project(upload(items_csv(2), name="items.csv"))
    response = steward_api.put(f"/api/v1/labeling/projects/{project.pk}/webhook/", {"url": url}, format="json")
    assert response.status_code == 400
    assert problem in str(response.json())
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_a_public_url_is_saved_and_the_setting_lets_private_addresses_through(
    upload, make_project, steward_api, dns, settings
):
    dns["hooks.shop.test"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    project = make_project(upload(items_csv(2), name="items.csv"))
    url = f"/api/v1/labeling/projects/{project.pk}/webhook/"
    assert steward_api.put(url, {"url": "https://hooks.shop.test/in"}, format="json").status_code == 200
    assert steward_api.put(url, {"url": "http://127.0.0.1:9/"}, format="json").status_code == 400
    settings.STEWARD_WEBHOOK_ALLOW_PRIVATE = True
    assert steward_api.put(url, {"url": "http://127.0.0.1:9/"}, format="json").status_code == 200
    assert Webhook.objects.get().url == "http://127.0.0.1:9/"


@pytest.mark.django_db
def test_a_name_that_resolves_to_loopback_at_delivery_time_is_refused_and_nothing_is_sent(
    hooked_project,
    annotators,
    receiver,
    dns,
    settings,
    run_tasks_eagerly,
    django_capture_on_commit_callbacks,
):
    settings.STEWARD_LABELING_WEBHOOK_RETRIES = 0
    hook = receiver([200])
    port = hook.server.server_address[1]
    dns["rebind.test"] = ["93.184.216.34"]
    project = hooked_project(f"http://rebind.test:{port}/hook")

    dns["rebind.test"] = ["127.0.0.1"]  # DNS rebinding: the name now points at the server itself
    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])
    delivery = WebhookDelivery.objects.get()
    attempt = delivery.attempt_log.get()
    assert delivery.status == "failed" and attempt.status_code is None
    assert attempt.error.startswith("refused:") and "loopback address 127.0.0.1" in attempt.error
    assert hook.requests == []


@pytest.mark.django_db
def test_delivery_connects_to_the_address_it_checked_without_resolving_again(
    hooked_project,
    annotators,
    receiver,
    dns,
    settings,
    run_tasks_eagerly,
    django_capture_on_commit_callbacks,
):
    settings.STEWARD_WEBHOOK_ALLOW_PRIVATE = True
    hook = receiver([204])
    port = hook.server.server_address[1]
    dns["hooks.shop.test"] = ["127.0.0.1"]
    project = hooked_project(f"http://hooks.shop.test:{port}/in?x=1")
    dns["_lookups"].clear()

    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert dns["_lookups"] == ["hooks.shop.test"]  # resolved once; the socket went to that answer
    ((headers, _, _),) = hook.requests
    assert headers["Host"] == f"hooks.shop.test:{port}"


@pytest.mark.django_db
def test_redirects_are_not_followed(
    hooked_project, annotators, receiver, settings, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    settings.STEWARD_WEBHOOK_ALLOW_PRIVATE = True
    settings.STEWARD_LABELING_WEBHOOK_RETRIES = 0
    target = receiver([200])
    hook = receiver([302], location=target.url)
    project = hooked_project(hook.url)
    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert (attempt.status_code, attempt.error) == (302, "HTTP 302")
    assert len(hook.requests) == 1 and target.requests == []


@pytest.mark.parametrize(
    ("address", "problem"),
    [("8.8.8.8", None), ("2001:4860:4860::8888", None), ("fe80::1%eth0", "link-local"), ("fc00::1", "private")],
)
def test_address_problem(address, problem):
    assert egress.address_problem(address) == problem


@pytest.mark.django_db
def test_the_project_page_refuses_a_loopback_webhook_with_the_reason(upload, make_project, steward):
    from django.test import Client

    project = make_project(upload(items_csv(2), name="items.csv"))
    client = Client()
    client.force_login(steward)
    response = client.post(
        f"/labeling/projects/{project.pk}/", {"action": "webhook", "url": "http://127.0.0.1:8000/admin/"}, follow=True
    )
    assert any("loopback address 127.0.0.1" in str(m) for m in response.context["messages"])
    assert not Webhook.objects.exists()


def _self_signed(tmp_path, name: str) -> tuple[str, str]:
    """A certificate for `name` (its own CA) and its key, as PEM files."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.mark.parametrize(("cert_name", "delivered"), [("hooks.shop.test", True), ("other.test", False)])
@pytest.mark.django_db
def test_https_to_a_pinned_address_still_verifies_the_certificate_for_the_url_host(
    hooked_project,
    annotators,
    receiver,
    dns,
    settings,
    monkeypatch,
    tmp_path,
    run_tasks_eagerly,
    django_capture_on_commit_callbacks,
    cert_name,
    delivered,
):
    import http.client
    import ssl

    settings.STEWARD_WEBHOOK_ALLOW_PRIVATE = True
    settings.STEWARD_LABELING_WEBHOOK_RETRIES = 0
    cert, key = _self_signed(tmp_path, cert_name)
    hook = receiver([200])
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    hook.server.socket = server_context.wrap_socket(hook.server.socket, server_side=True)
    monkeypatch.setattr(
        http.client.ssl, "_create_default_https_context", lambda: ssl.create_default_context(cafile=cert)
    )
    port = hook.server.server_address[1]
    dns["hooks.shop.test"] = ["127.0.0.1"]
    project = hooked_project(f"https://hooks.shop.test:{port}/in")
    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    if delivered:  # the socket went to 127.0.0.1, TLS verified the certificate against hooks.shop.test
        assert (attempt.status_code, attempt.error) == (200, "")
        assert len(hook.requests) == 1
    else:
        assert attempt.status_code is None and "CERTIFICATE_VERIFY_FAILED" in attempt.error
        assert hook.requests == []
