"""Entity examples: a value that counts, one that fails its check or format, and (for checked
entities) the failing value rescued by a context word standing close before it."""

from __future__ import annotations

GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
    "KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END RSA PRIVATE KEY-----"
)
# entity: (counts, fails, rescued by context or None)
EXAMPLES: dict[str, tuple[str, str, str | None]] = {
    "credit_card": ("4111 1111 1111 1111", "4111 1111 1111 1112", "card 4111 1111 1111 1112"),
    "cvv": ("cvv: 123", "room 123", None),
    "email": ("jane.doe@example.com", "jane.doe@localhost", None),
    "phone_number": ("+1 415 555 2671", "+1 123 456 7890", "call +1 123 456 7890"),
    "ssn": ("536-22-1234", "000-22-1234", "ssn 000-22-1234"),
    "ip_address": ("192.168.1.20", "999.1.1.1", "ip 999.1.1.1"),
    "ip6_address": ("2001:db8::8a2e:370:7334", "12:30:45", "ipv6 12:30:45"),
    "bank_account": ("account number 12345678", "12345678", None),
    "password": ("password: hunter22", "password policy", None),
    "api_key": ("api_key=abcd1234efgh5678ijkl", "api key: short", None),
    "access_token": ("access_token: ya29a0AfH6SMBxyzxyzxyz12", "access token: short", None),
    "iban": ("DE89370400440532013000", "DE00370400440532013000", "iban DE00370400440532013000"),
    "swift_bic": ("DEUTDEFF500", "DEUTXXFF500", "swift DEUTXXFF500"),
    "crypto_wallet": (
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
        "bitcoin 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
    ),
    "tax_id": ("12-3456789", "00-3456789", "ein 00-3456789"),
    "routing_number": ("021000021", "021000022", "routing 021000022"),
    "uuid": ("123e4567-e89b-12d3-a456-426614174000", "123e4567-e89b-12d3-a456-42661417", None),
    "jwt_token": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "eyJub3RoaW5nIjoxfQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "jwt eyJub3RoaW5nIjoxfQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    ),
    "mac_address": ("00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D", None),
    "stripe_key": ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_fake_4eC39HqLyjWDarjtT1zdp7dc", None),
    "drivers_license": ("driver's license: D1234567", "D1234567", None),
    "passport": ("passport number X1234567", "X1234567", None),
    "address": ("1600 Pennsylvania Avenue", "1600 pennsylvania avenue", None),
    "zip_code": ("94105-1234", "94105", "zip 94105"),
    "date": ("2024-03-15", "2024-13-45", "born 2024-13-45"),
    "spanish_dni": ("12345678Z", "12345678A", "dni 12345678A"),
    "spanish_nie": ("X1234567L", "X1234567A", "nie X1234567A"),
    "spanish_cif": ("A58818501", "A58818502", "cif A58818502"),
    "spanish_nss": ("nss 281234567840", "281234567840", None),
    "spanish_iban": (
        "ES9121000418450200051332",
        "ES0021000418450200051332",
        "iban ES0021000418450200051332",
    ),
    "spanish_phone": ("+34 612 345 678", "+34 612 345 67", None),
    "french_nir": ("2 95 10 99 126 111 93", "2 95 10 99 126 111 94", "nir 2 95 10 99 126 111 94"),
    "italian_cf": ("RCCMNL83S18D969H", "RCCMNL83S18D969A", "codice fiscale RCCMNL83S18D969A"),
    "german_id": ("36 574 261 809", "36 574 261 808", "steuer 36 574 261 808"),
    "brazilian_cpf": ("390.533.447-05", "390.533.447-06", "cpf 390.533.447-06"),
    "brazilian_cnpj": ("16.727.230/0001-97", "16.727.230/0001-98", "cnpj 16.727.230/0001-98"),
    "mexican_curp": ("BOXW310820HNERXN09", "BOXW310820HNERXN08", "curp BOXW310820HNERXN08"),
    "mexican_rfc": ("GODE561231GR8", "GODE561331GR8", "rfc GODE561331GR8"),
    "us_medicare": ("1EG4-TE5-MK73", "1EG4-TE5-MK7", None),
    "isin": ("US0378331005", "US0378331004", "isin US0378331004"),
    "vehicle_vin": ("1M8GDM9AXKP042788", "1M8GDM9A1KP042788", "vin 1M8GDM9A1KP042788"),
    "device_imei": ("356938035643809", "356938035643808", "imei 356938035643808"),
    "device_mac": ("0011.2233.4455", "0011.2233.445", None),
    "argentine_dni": ("DNI 20.123.456", "20.123.456", None),
    "chilean_rut": ("12.345.678-5", "12.345.678-9", "rut 12.345.678-9"),
    "colombian_cc": ("cédula 1.023.456.789", "1.023.456.789", None),
    "peruvian_dni": ("10117410-2", "10117410-3", "dni 10117410-3"),
    "openai_key": ("sk-proj-abcdefghijklmnopqrstuvwx", "sk-short", None),
    "anthropic_key": ("sk-ant-api03-abcdefghijklmnopqrstuv", "sk-ant-short", None),
    "aws_access_key": ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPL", None),
    "github_token": (GH, "ghp_short", None),
    "slack_token": ("xoxb-1234567890-abcdefghij", "xoxz-1234567890-abcdefghij", None),
    "private_key": (PEM, PEM.replace("PRIVATE", "PUBLIC"), None),
}
