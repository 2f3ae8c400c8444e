import ipaddress

import pytest

from arpilot.outbound import ssrf

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "private"),
    ("192.0.2.10", "private"),
    ("198.18.0.1", "private"),
    ("2001:db8::1", "private"),
    ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "IPv4-mapped address wrapping a loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped address wrapping a private"),
    ("::ffff:169.254.169.254", "IPv4-mapped address wrapping a link-local"),
    ("64:ff9b::7f00:1", "NAT64 address wrapping a loopback"),
    ("64:ff9b::a00:1", "NAT64 address wrapping a private"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::", "6to4 address wrapping a loopback"),
    ("2002:c0a8:101::1", "6to4 address wrapping a private"),
    ("2001:0:4136:e378::1", "Teredo"),
]
ALLOWED = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:93.184.215.14",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_refused_addresses(address, reason):
    refusal = ssrf.address_refusal_reason(ipaddress.ip_address(address))

    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address):
    assert ssrf.address_refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_only_when_asked(address):
    assert ssrf.address_refusal_reason(ipaddress.ip_address(address), allow_loopback=True) is None


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "0.0.0.0", "100.64.0.1"])
def test_allowing_loopback_allows_nothing_else(address):
    assert ssrf.address_refusal_reason(ipaddress.ip_address(address), allow_loopback=True)


def test_https_url_resolving_to_a_public_address_is_accepted(dns, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = False

    ssrf.url_check("https://hooks.example.com/arpilot")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must use https"),
        ("https:///x", "no host"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com:99999/x", "Not a valid URL"),
        ("https://nowhere.example.com/x", "does not resolve"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://[::ffff:10.0.0.1]/x", "IPv4-mapped"),
        ("https://rebind.example.com/x", "private"),
        ("https://mixed.example.com/x", "link-local"),
        ("https://localhost.example.com/x", "loopback"),
    ],
)
def test_refused_urls_say_why(url, message, dns, settings):
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = False
    dns["rebind.example.com"] = ["192.168.0.10"]
    dns["mixed.example.com"] = ["93.184.215.14", "169.254.169.254"]
    dns["localhost.example.com"] = ["::1"]

    with pytest.raises(ssrf.UnsafeURL, match=message):
        ssrf.url_check(url)


def test_insecure_setting_allows_http_and_loopback_only(insecure):
    ssrf.url_check("http://127.0.0.1:8000/hook")
    ssrf.url_check("http://[::1]:8000/hook")

    with pytest.raises(ssrf.UnsafeURL, match="private"):
        ssrf.url_check("http://10.0.0.8/hook")


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1", "[::ffff:7f00:1]", "0"]
)
def test_other_spellings_of_loopback_are_refused(host, settings):
    """The check runs on what the resolver makes of the host, not on how it is written."""
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = False

    with pytest.raises(ssrf.UnsafeURL, match=r"loopback|unspecified|IPv4-mapped"):
        ssrf.url_check(f"https://{host}/hook")
