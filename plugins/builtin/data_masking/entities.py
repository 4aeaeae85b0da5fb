"""The predefined entities: pattern (RE2 syntax), check, default mask and context words."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import iban, imei, isin
from stdnum.br import cnpj, cpf
from stdnum.cl import rut
from stdnum.de import idnr
from stdnum.es import cif, dni, nie
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.mx import curp, rfc
from stdnum.pe import cui
from stdnum.us import ein, rtn, ssn

from plugins.builtin.data_masking.checks import (
    Check,
    bank_code,
    calendar_date,
    card,
    ip_address,
    jwt,
    phone,
    stdnum,
    vin,
    wallet,
    zip_plus_four,
)


@dataclass(frozen=True)
class Entity:
    """`check` None: every match counts; a match failing its check counts only when one of
    `context` stands close before it (Presidio's context words) or names the JSON key, form
    field or header it is the value of. An entity matched only after its words (`after_context`)
    lists them as its context too: such a key stands before its value."""

    name: str
    mask: str
    pattern: str
    check: Check | None = None
    context: tuple[str, ...] = ()


# Between a context word and its value: separators and a few filler words ("number is").
GAP = r"[\s:#=.\-]{0,4}(?:(?i:is|number|no|num|nr|code|of|n°)[\s:#=.\-]{1,4}){0,3}"


def after_context(words: tuple[str, ...], value: str) -> str:
    """The pattern of a format too generic to tell apart alone (a CVV is any 3 digits): it
    counts only right after one of its context words."""
    alternation = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return rf"(?i:\b(?:{alternation}))\b" + GAP + f"(?P<value>{value})" + r"\b"


B = r"\b"
MBI = "[AC-HJKMNP-RT-Y]"  # the letters of Medicare Beneficiary Identifiers (no S L O I B Z)
MBI_OR_DIGIT = "[AC-HJKMNP-RT-Y0-9]"
HEX = "[0-9A-Fa-f]"
CARD_CONTEXT = ("card", "credit", "debit", "visa", "mastercard", "amex", "cc")
ACCOUNT_CONTEXT = ("account", "acct", "bank")
PHONE_CONTEXT = ("phone", "tel", "telephone", "call", "mobile", "cell", "fax", "whatsapp")
NSS_CONTEXT = ("nss", "seguridad social", "afiliación", "afiliacion")
CVV_CONTEXT = ("cvv", "cvc", "cvv2", "security code", "csc")
AR_DNI_CONTEXT = ("dni", "documento")
CO_CC_CONTEXT = ("cédula", "cedula", "cc")
PASSPORT_CONTEXT = ("passport", "pasaporte")
DL_CONTEXT = ("driver", "driver's", "license", "licence", "dl")
BEARER = r"[A-Za-z0-9\-._~+/]{16,}=*"
MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
MONTH_NAMES = "January|February|March|April|June|July|August|September|October|November|December"

# In scan order: where two entities match at the same place, the first listed wins (the
# specific formats come before the generic ones).
ENTITIES: tuple[Entity, ...] = (
    Entity(
        "private_key",
        "[MASKED_PRIVATE_KEY]",
        r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----[A-Za-z0-9+/=\s:,\-]*"
        r"(?:-----END [A-Z ]{0,20}PRIVATE KEY-----)?",
    ),
    Entity(
        "jwt_token",
        "[MASKED_JWT]",
        B + r"eyJ[A-Za-z0-9_\-]{8,}\.(?:[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*)?)?",
        jwt,
        ("jwt", "token", "bearer"),
    ),
    Entity("anthropic_key", "[MASKED_ANTHROPIC_KEY]", B + r"sk-ant-[A-Za-z0-9_\-]{20,}"),
    Entity("openai_key", "[MASKED_OPENAI_KEY]", B + r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{20,}"),
    Entity("stripe_key", "[MASKED_STRIPE_KEY]", B + r"(?:sk|pk|rk)_(?:test|live)_[A-Za-z0-9]{16,}"),
    Entity("aws_access_key", "[MASKED_AWS_KEY]", B + r"(?:AKIA|ASIA)[A-Z0-9]{16}" + B),
    Entity(
        "github_token",
        "[MASKED_GITHUB_TOKEN]",
        B + r"(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    ),
    Entity("slack_token", "[MASKED_SLACK_TOKEN]", B + r"xox[abposr]-[A-Za-z0-9\-]{10,}"),
    Entity(
        "password",
        "[MASKED_PASSWORD]",
        r"(?i:\b(?:password|passwd|pwd|passcode)\s*(?:is|[:=])\s*)(?P<value>[^\s\"',;]{3,})",
    ),
    Entity(
        "api_key",
        "[MASKED_API_KEY]",
        r"(?i:\b(?:api[_\- ]?key|apikey|secret[_\- ]?key)\s*(?:is|[:=])?\s*)[\"']?"
        r"(?P<value>[A-Za-z0-9_\-]{16,})",
    ),
    Entity(
        "access_token",
        "[MASKED_TOKEN]",
        r"(?i:\b(?:access[_\- ]?token|auth[_\- ]?token|bearer)\s*(?:is|[:=])?\s*)[\"']?"
        r"(?P<value>" + BEARER + ")",
    ),
    Entity(
        "email",
        "[MASKED_EMAIL]",
        B + r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}" + B,
    ),
    Entity(
        "uuid",
        "[MASKED_UUID]",
        B + HEX + "{8}-" + HEX + "{4}-" + HEX + "{4}-" + HEX + "{4}-" + HEX + "{12}" + B,
    ),
    Entity(
        "spanish_iban",
        "[MASKED_ES_IBAN]",
        B + r"ES\d{2}(?: ?\d{4}){5}" + B,
        stdnum(iban),
        ("iban", "cuenta") + ACCOUNT_CONTEXT,
    ),
    Entity(
        "iban",
        "[MASKED_IBAN]",
        B + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?" + B,
        stdnum(iban),
        ("iban",) + ACCOUNT_CONTEXT,
    ),
    Entity(
        "isin",
        "[MASKED_ISIN]",
        B + r"[A-Z]{2}[A-Z0-9]{9}\d" + B,
        stdnum(isin),
        ("isin", "security", "securities"),
    ),
    Entity(
        "italian_cf",
        "[MASKED_IT_CF]",
        B + r"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]" + B,
        stdnum(codicefiscale),
        ("codice", "fiscale", "cf"),
    ),
    Entity(
        "mexican_curp",
        "[MASKED_MX_CURP]",
        B + r"[A-Z]{4}\d{6}[HM][A-Z]{5}[A-Z0-9]\d" + B,
        stdnum(curp),
        ("curp",),
    ),
    Entity(
        "mexican_rfc",
        "[MASKED_MX_RFC]",
        B + r"[A-Z&]{3,4}\d{6}[A-Z0-9]{3}" + B,
        stdnum(rfc),
        ("rfc",),
    ),
    Entity(
        "vehicle_vin",
        "[MASKED_VIN]",
        B + r"[A-HJ-NPR-Z0-9]{17}" + B,
        vin,
        ("vin", "vehicle", "chassis"),
    ),
    Entity(
        "us_medicare",
        "[MASKED_MEDICARE]",
        B + rf"[1-9]{MBI}{MBI_OR_DIGIT}\d-?{MBI}{MBI_OR_DIGIT}\d-?{MBI}{{2}}\d{{2}}" + B,
    ),
    Entity(
        "swift_bic",
        "[MASKED_BIC]",
        B + r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?" + B,
        bank_code,
        ("swift", "bic", "bank"),
    ),
    Entity(
        "crypto_wallet",
        "[MASKED_WALLET]",
        B + r"(?:[13][a-km-zA-HJ-NP-Z1-9]{25,34}|bc1[ac-hj-np-z02-9]{11,71}|0x[a-fA-F0-9]{40})" + B,
        wallet,
        ("wallet", "bitcoin", "btc", "ethereum", "eth", "crypto"),
    ),
    Entity(
        "ip6_address",
        "[MASKED_IP6]",
        r"(?:" + HEX + r"{0,4}:){2,7}" + HEX + r"{0,4}",
        ip_address,
        ("ipv6",),
    ),
    Entity("mac_address", "[MASKED_MAC]", B + HEX + r"{2}(?:[:\-]" + HEX + r"{2}){5}" + B),
    Entity("device_mac", "[MASKED_MAC]", B + HEX + r"{4}\." + HEX + r"{4}\." + HEX + r"{4}" + B),
    Entity("spanish_nie", "[MASKED_ES_NIE]", B + r"[XYZ]-?\d{7}-?[A-Z]" + B, stdnum(nie), ("nie",)),
    Entity(
        "spanish_cif",
        "[MASKED_ES_CIF]",
        B + r"[ABCDEFGHJNPQRSUVW]-?\d{7}-?[0-9A-J]" + B,
        stdnum(cif),
        ("cif",),
    ),
    Entity("spanish_dni", "[MASKED_ES_DNI]", B + r"\d{8}-?[A-Z]" + B, stdnum(dni), ("dni",)),
    Entity(
        "date",
        "[MASKED_DATE]",
        B
        + r"(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}|(?:"
        + MONTH_NAMES
        + "|"
        + MONTHS
        + r")\.? \d{1,2},? \d{4})"
        + B,
        calendar_date,
        ("date", "born", "birth", "dob"),
    ),
    Entity(
        "credit_card",
        "[MASKED_CC]",
        B + r"(?:\d{4}[ \-]?\d{6}[ \-]?\d{5}|\d{4}(?:[ \-]?\d{4}){2}[ \-]?\d{1,7})" + B,
        card,
        CARD_CONTEXT,
    ),
    Entity(
        "device_imei",
        "[MASKED_IMEI]",
        B + r"\d{2}[ \-]?\d{6}[ \-]?\d{6}[ \-]?\d" + B,
        stdnum(imei),
        ("imei", "device"),
    ),
    Entity(
        "french_nir",
        "[MASKED_FR_NIR]",
        B + r"[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}" + B,
        stdnum(nir),
        ("nir", "sécurité", "securite", "insee"),
    ),
    Entity(
        "spanish_nss",
        "[MASKED_ES_NSS]",
        after_context(NSS_CONTEXT, r"\d{2}[ /\-]?\d{8}[ /\-]?\d{2}"),
        context=NSS_CONTEXT,
    ),
    Entity(
        "brazilian_cnpj",
        "[MASKED_BR_CNPJ]",
        B + r"\d{2}\.?\d{3}\.?\d{3}/?\d{4}-?\d{2}" + B,
        stdnum(cnpj),
        ("cnpj",),
    ),
    Entity(
        "brazilian_cpf",
        "[MASKED_BR_CPF]",
        B + r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}" + B,
        stdnum(cpf),
        ("cpf",),
    ),
    Entity(
        "chilean_rut",
        "[MASKED_CL_RUT]",
        B + r"\d{1,2}\.?\d{3}\.?\d{3}-[\dkK]" + B,
        stdnum(rut),
        ("rut", "run"),
    ),
    Entity(
        "german_id",
        "[MASKED_DE_ID]",
        B + r"\d{2} ?\d{3} ?\d{3} ?\d{3}" + B,
        stdnum(idnr),
        ("steuer", "idnr", "identifikationsnummer", "personalausweis"),
    ),
    Entity(
        "ssn", "[MASKED_SSN]", B + r"\d{3}-\d{2}-\d{4}" + B, stdnum(ssn), ("ssn", "social security")
    ),
    Entity("tax_id", "[MASKED_TAX_ID]", B + r"\d{2}-\d{7}" + B, stdnum(ein), ("tax", "ein", "tin")),
    Entity(
        "spanish_phone",
        "[MASKED_ES_PHONE]",
        r"(?:\+34[ \-]?)" + r"[6789]\d{2}[ \-]?\d{3}[ \-]?\d{3}" + B,
        phone("ES"),
        ("teléfono", "telefono", "móvil", "movil") + PHONE_CONTEXT,
    ),
    Entity(
        "phone_number",
        "[MASKED_PHONE]",
        r"(?:\+\d{1,3}[ \-.]?)?(?:\(\d{2,4}\)[ \-.]?|\b\d{2,4}[ \-.])\d{3,4}[ \-.]?\d{3,4}" + B,
        phone("US"),
        PHONE_CONTEXT,
    ),
    Entity(
        "ip_address",
        "[MASKED_IP]",
        B + r"\d{1,3}(?:\.\d{1,3}){3}" + B,
        ip_address,
        ("ip", "address", "host"),
    ),
    Entity("peruvian_dni", "[MASKED_PE_DNI]", B + r"\d{8}-?\d" + B, stdnum(cui), ("dni",)),
    Entity(
        "routing_number",
        "[MASKED_ROUTING]",
        B + r"\d{9}" + B,
        stdnum(rtn),
        ("routing", "aba", "rtn"),
    ),
    Entity(
        "zip_code",
        "[MASKED_ZIP]",
        B + r"\d{5}(?:-\d{4})?" + B,
        zip_plus_four,
        ("zip", "postal", "postcode"),
    ),
    Entity(
        "address",
        "[MASKED_ADDRESS]",
        B + r"\d{1,5} (?:[A-Z][a-z]+ ){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln"
        r"|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Parkway|Square)" + B + r"\.?",
    ),
    Entity(
        "cvv",
        "[MASKED_CVV]",
        after_context(CVV_CONTEXT, r"\d{3,4}"),
        context=CVV_CONTEXT,
    ),
    Entity(
        "bank_account",
        "[MASKED_BANK_ACCOUNT]",
        after_context(ACCOUNT_CONTEXT, r"\d{8,17}"),
        context=ACCOUNT_CONTEXT,
    ),
    Entity(
        "argentine_dni",
        "[MASKED_AR_DNI]",
        after_context(AR_DNI_CONTEXT, r"\d{1,2}\.?\d{3}\.?\d{3}"),
        context=AR_DNI_CONTEXT,
    ),
    Entity(
        "colombian_cc",
        "[MASKED_CO_CC]",
        after_context(CO_CC_CONTEXT, r"\d{1,3}(?:\.?\d{3}){1,3}"),
        context=CO_CC_CONTEXT,
    ),
    Entity(
        "passport",
        "[MASKED_PASSPORT]",
        after_context(PASSPORT_CONTEXT, r"[A-Z0-9]{6,9}"),
        context=PASSPORT_CONTEXT,
    ),
    Entity(
        "drivers_license",
        "[MASKED_DL]",
        after_context(DL_CONTEXT, r"[A-Z0-9][A-Z0-9\-]{4,14}"),
        context=DL_CONTEXT,
    ),
)

BY_NAME = {entity.name: entity for entity in ENTITIES}
NAMES = tuple(BY_NAME)
