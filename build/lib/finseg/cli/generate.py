"""Deterministic synthetic bank for `finseg generate`.

`generate_bank(out_dir, BankParams(...))` writes two files in the format of
SPEC §2 "Files":

- ``accounts.<ext>``: ``account_id, user_id, type, currency, balance,
  balance_date, opened_on, closed_on``
- ``transactions.<ext>``: ``transaction_id, account_id, booking_date, amount,
  label, counterparty_name, counterparty_iban, purpose, mcc``

In **CSV** (UTF-8, header row, RFC 4180 quoting by pyarrow, an empty cell is
null) ``balance`` and ``amount`` are exact decimal strings in major units with
exactly the currency's decimals (``-150.00``, ``1426.84``; ``12`` for JPY):
they are written as Arrow decimals built from the integer minor units, so no
float ever touches them. In **Parquet** ``balance`` and ``amount`` are
**int64 minor units** (cents for EUR), dates are ``date32`` and the text
columns are plain strings (dictionary-encoded pages, no Arrow schema stored, so
readers see ``string``).

What the data looks like:

- Every user has a CHECKING account; about 60 % also a SAVINGS and 40 % a
  CREDIT_CARD account. Ids are ``u0000123`` / ``a0000123`` / ``t000000123``;
  a user's accounts are consecutive.
- The history covers the ``months`` complete months before the month of
  ``end`` plus that month up to ``end``. Booking dates are business days.
- CHECKING: monthly income (``SALARY`` from an employer, or
  ``INCOME.PENSION`` / ``INCOME.BENEFITS``), rent (``RENTANDLIVING.RENT``),
  energy, telecom and utility bills, insurance premiums paid monthly,
  quarterly, half-yearly or yearly to named insurers (whose names sometimes
  differ in case and white space only, so that they share one SPEC §4 provider
  key), standing orders to the SAVINGS account, external savings and
  investment plans, loans, child benefit, tax refunds, the monthly credit-card
  bill, and card payments for groceries, shopping, leisure, transport, travel
  and cash with merchant names and MCCs, refunds and transfers from and to
  other people. CREDIT_CARD: card spending, settled from CHECKING in the next
  month. SAVINGS: the standing orders and interest.
- Counterparty IBANs come from a fixed pool of valid German IBANs made with
  ``schwifty``; transfers between a user's own accounts carry the user's name
  and no IBAN.
- Some accounts are opened during the history, some users leave (all their
  accounts are closed, with a final transfer that brings the balance to 0),
  and some SAVINGS and CREDIT_CARD accounts are closed alone.
- ``balance`` is the snapshot at ``balance_date = end``; it equals a starting
  balance plus the sum of the account's amounts, so
  ``EOD(d) = balance + S(d) - S(end)`` (SPEC §1) describes every day.
- Exactly ``round(below_zero_share * users)`` users have a CHECKING account
  whose end-of-day balance is below zero at least once in every one of the
  ``months`` complete months (rent early in the month, income late in it, a
  starting balance just low enough). All other CHECKING accounts keep a
  buffer above zero, except a few that dip below zero in one to three months.

Volume: ``accounts``, when given, is met exactly (it decides the number of
users; ``users`` is then ignored). ``transactions`` (default: 50 per account
per 24 months of history) is met to within a few rows per thousand for banks
of a few hundred users or more; only the credit-card bills are random in
number. The recurring streams that define the segments come first: income and
rent are kept, bills, insurance, plans and subscriptions are thinned when the
target is low, and at least a quarter of the rows are card payments and other
irregular events.

The same parameters and seed give byte-identical files. Generation is
vectorised with numpy over chunks of about one million transactions, which
are written as one row group each while the next chunk is generated.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import iso4217
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "ACCOUNT_COLUMNS",
    "TRANSACTION_COLUMNS",
    "BankParams",
    "generate_bank",
    "provider_key",
]

ACCOUNT_COLUMNS = (
    "account_id", "user_id", "type", "currency", "balance", "balance_date", "opened_on",
    "closed_on",
)
TRANSACTION_COLUMNS = (
    "transaction_id", "account_id", "booking_date", "amount", "label", "counterparty_name",
    "counterparty_iban", "purpose", "mcc",
)


@dataclass(frozen=True)
class BankParams:
    """What to generate. ``accounts``, when given, wins over ``users``."""

    users: int = 1000
    # Total accounts. When given, the number of users is chosen so that the
    # account total is exactly this number.
    accounts: int | None = None
    # Approximate total transactions; default 50 per account per 24 months.
    transactions: int | None = None
    # History: this many complete months before the month of `end`, plus the
    # days of end's month up to `end`.
    months: int = 24
    end: dt.date = dt.date(2026, 10, 31)
    seed: int = 0
    below_zero_share: float = 0.05
    currency: str = "EUR"


# ---- tuning -------------------------------------------------------------

P_SAVINGS = 0.60
P_CREDIT_CARD = 0.40
TX_PER_ACCOUNT_PER_24_MONTHS = 50
CHUNK_ROWS = 1 << 20
VARIABLE_MIN_SHARE = 0.25  # of the target, for card payments and other irregular rows
P_NEW_CUSTOMER = 0.06
P_LEAVER = 0.02
P_LATE_OPENED = 0.08  # SAVINGS / CREDIT_CARD of existing customers opened in the history
P_CLOSED = 0.03  # SAVINGS / CREDIT_CARD closed in the history on their own
P_OCCASIONAL_DIP = 0.04  # other CHECKING accounts that go below zero in 1-3 months
INCOME_FLOOR = 0.6  # income is at least this share of the drawn base income
CC_ACTIVITY = 0.6  # card payments on a credit card relative to the checking account

# Rough rates so that amounts look plausible in other currencies (generation
# only; every stored amount is an exact integer of minor units).
_FX_PER_EUR = {
    "EUR": 1.0, "USD": 1.1, "GBP": 0.85, "CHF": 0.95, "JPY": 160.0, "SEK": 11.5, "NOK": 11.5,
    "DKK": 7.46, "PLN": 4.3, "CZK": 25.0, "HUF": 400.0, "CAD": 1.5, "AUD": 1.65,
}

CHECKING, SAVINGS, CREDIT_CARD = 0, 1, 2
ACCOUNT_TYPES = ("CHECKING", "SAVINGS", "CREDIT_CARD")

LABELS = (
    "SALARY", "INCOME.PENSION", "INCOME.BENEFITS", "INCOME.CAPITALINCOME",
    "RENTANDLIVING.RENT", "RENTANDLIVING.UTILITIES", "RENTANDLIVING.ENERGY",
    "RENTANDLIVING.TELECOM", "INSURANCE.CAR", "INSURANCE.HEALTH", "INSURANCE.LIFE",
    "INSURANCE.LIABILITY", "INSURANCE.HOUSEHOLD", "INSURANCE.LEGAL", "SAVINGS", "INVESTMENTS",
    "LOANANDINTEREST.CONSUMERLOAN", "LOANANDINTEREST.CARLOAN", "LOANANDINTEREST.REALESTATELOAN",
    "GROCERIES", "SHOPPING", "LEISURE", "TRAVEL", "TRANSPORT", "CASH", "TAX", "TRANSFER",
)
_L = {name: i for i, name in enumerate(LABELS)}


def provider_key(name: str | None) -> str:
    """SPEC §4 provider key: case-folded, white space runs collapsed, stripped."""
    return " ".join((name or "").casefold().split())


# ---- the counterparty catalogue -----------------------------------------

_SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder",
    "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange",
    "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier",
    "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters",
    "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Yılmaz", "Kaya", "Nowak",
    "Kowalski", "Öztürk", "Demir", "Popescu", "Rossi", "Nguyen", "Ivanov",
)
_FIRST_NAMES = (
    "Anna", "Maria", "Lena", "Laura", "Julia", "Sarah", "Lisa", "Katharina", "Sophie",
    "Hannah", "Lea", "Emma", "Mia", "Sabine", "Petra", "Claudia", "Monika", "Ursula", "Andrea",
    "Nicole", "Ayşe", "Fatma", "Elif", "Olga", "Marta", "Thomas", "Michael", "Andreas",
    "Stefan", "Christian", "Markus", "Daniel", "Jan", "Lukas", "Felix", "Jonas", "Paul",
    "Tobias", "Sebastian", "Alexander", "Peter", "Klaus", "Jürgen", "Wolfgang", "Uwe",
    "Mehmet", "Ali", "Mustafa", "Piotr", "Ivan",
)
_CITIES = (
    "Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf",
    "Leipzig", "Dortmund", "Essen", "Bremen", "Dresden", "Hannover", "Nürnberg", "Duisburg",
    "Bochum", "Wuppertal", "Bielefeld", "Bonn", "Münster", "Mannheim", "Karlsruhe", "Augsburg",
    "Wiesbaden", "Aachen", "Braunschweig", "Kiel", "Chemnitz", "Freiburg", "Regensburg",
)
_BIG_EMPLOYERS = (
    "Siemens AG", "Deutsche Telekom AG", "SAP SE", "Robert Bosch GmbH", "Volkswagen AG",
    "BMW AG", "Mercedes-Benz Group AG", "Deutsche Bahn AG", "BASF SE", "Allianz SE",
    "Lidl Dienstleistung GmbH & Co. KG", "REWE Markt GmbH", "Bayer AG", "Continental AG",
    "Deutsche Post AG", "Deutsche Lufthansa AG", "Fraunhofer-Gesellschaft e.V.",
    "Charité - Universitätsmedizin Berlin", "Landesamt für Finanzen Bayern",
    "Landeshauptstadt München", "Land Berlin", "Landesamt für Besoldung und Versorgung NRW",
    "Bundesverwaltungsamt", "Helios Kliniken GmbH", "Asklepios Kliniken GmbH",
    "Edeka Zentrale Stiftung & Co. KG", "Aldi Süd Dienstleistungs-SE & Co. oHG",
    "Schwarz Dienstleistung KG", "ZF Friedrichshafen AG", "thyssenkrupp AG",
    "Deutsche Bank AG", "Commerzbank AG", "Infineon Technologies AG", "Adidas AG",
    "Henkel AG & Co. KGaA", "E.ON SE", "RWE AG", "Zalando SE", "Otto GmbH & Co KG",
    "Stadt Köln",
)
_EMPLOYER_SECTORS = (
    "Logistik GmbH", "Bau GmbH & Co. KG", "Elektrotechnik GmbH", "Software GmbH",
    "Consulting GmbH", "Metallbau GmbH", "Gastronomie GmbH", "Pflegedienst GmbH",
    "Handels GmbH", "Steuerberatung PartG mbB", "Immobilienservice GmbH", "Zahnarztpraxis",
)
_BIG_LANDLORDS = (
    "Vonovia SE", "Deutsche Wohnen SE", "LEG Wohnen NRW GmbH", "Vivawest Wohnen GmbH",
    "GEWOBAG Wohnungsbau-AG Berlin", "degewo AG", "SAGA Unternehmensgruppe",
    "Münchner Wohnen GmbH", "ABG Frankfurt Holding GmbH", "GAG Immobilien AG",
    "Grand City Property Ltd.", "Adler Group S.A.",
)
_INSURANCE_TYPES = ("CAR", "HEALTH", "LIFE", "LIABILITY", "HOUSEHOLD", "LEGAL")
# name, types offered, market weight, hand-made variants (case / spacing only)
_INSURERS = (
    ("Allianz Versicherungs-AG", "CAR LIABILITY HOUSEHOLD LEGAL LIFE", 12,
     ("ALLIANZ VERSICHERUNGS-AG", "Allianz  Versicherungs-AG")),
    ("HUK-COBURG", "CAR LIABILITY HOUSEHOLD LEGAL", 14, ("HUK-Coburg", "HUK-COBURG ")),
    ("ERGO Versicherung AG", "LIABILITY HOUSEHOLD LEGAL LIFE", 6,
     ("Ergo Versicherung AG", "ERGO  Versicherung AG")),
    ("AXA Versicherung AG", "CAR LIABILITY HOUSEHOLD HEALTH", 6,
     ("AXA VERSICHERUNG AG", " AXA Versicherung AG")),
    ("DEVK", "CAR LIABILITY HOUSEHOLD LEGAL", 6, ("Devk", "DEVK ")),
    ("Generali Deutschland Versicherung AG", "CAR LIABILITY HOUSEHOLD LIFE", 4, ()),
    ("R+V Allgemeine Versicherung AG", "CAR LIABILITY HOUSEHOLD", 6,
     ("R+V ALLGEMEINE VERSICHERUNG AG",)),
    ("R+V Lebensversicherung AG", "LIFE", 2, ()),
    ("Debeka Krankenversicherungsverein a.G.", "HEALTH", 5, ()),
    ("DKV Deutsche Krankenversicherung AG", "HEALTH", 3, ()),
    ("SIGNAL IDUNA Krankenversicherung a.G.", "HEALTH", 2,
     ("Signal Iduna Krankenversicherung a.G.",)),
    ("HanseMerkur Versicherung AG", "HEALTH LIABILITY", 2, ()),
    ("ADAC Autoversicherung AG", "CAR", 3, ()),
    ("CosmosDirekt", "CAR LIFE LIABILITY HOUSEHOLD", 4, ("COSMOSDIREKT", "Cosmosdirekt")),
    ("ARAG SE", "LEGAL LIABILITY", 4, ("Arag SE",)),
    ("ROLAND Rechtsschutz-Versicherungs-AG", "LEGAL", 2, ()),
    ("Württembergische Versicherung AG", "CAR HOUSEHOLD LIABILITY", 3, ()),
    ("VHV Allgemeine Versicherung AG", "CAR LIABILITY", 3, ()),
    ("WGV-Versicherung AG", "CAR LIABILITY HOUSEHOLD", 2, ()),
    ("Gothaer Allgemeine Versicherung AG", "LIABILITY HOUSEHOLD", 2, ()),
    ("LVM Versicherung", "CAR HOUSEHOLD LIABILITY", 3, ("LVM  Versicherung",)),
    ("Provinzial Versicherung AG", "CAR HOUSEHOLD LIABILITY", 2, ()),
    ("Hannoversche Lebensversicherung AG", "LIFE", 2, ()),
    ("Alte Leipziger Lebensversicherung a.G.", "LIFE", 1, ()),
    ("Barmenia Krankenversicherung AG", "HEALTH", 1, ()),
    ("HUK24 AG", "CAR", 3, ("Huk24 AG",)),
)
# type: incidence, annual premium median EUR, sigma, frequency weights (1, 3, 6, 12 months)
_INSURANCE_MODEL = {
    "CAR": (0.55, 520.0, 0.45, (0.30, 0.10, 0.15, 0.45)),
    "HEALTH": (0.12, 5400.0, 0.30, (1.0, 0.0, 0.0, 0.0)),
    "LIFE": (0.25, 720.0, 0.60, (0.80, 0.05, 0.0, 0.15)),
    "LIABILITY": (0.75, 75.0, 0.35, (0.15, 0.10, 0.05, 0.70)),
    "HOUSEHOLD": (0.60, 130.0, 0.45, (0.20, 0.15, 0.0, 0.65)),
    "LEGAL": (0.35, 320.0, 0.35, (0.35, 0.15, 0.0, 0.50)),
}
_PERIODS = np.array([1, 3, 6, 12], dtype=np.int64)

# Variable (irregular) event categories.
_VAR_CATEGORIES = (
    # name, label, median EUR, sigma, sign, P(checking), P(credit card)
    ("groceries", "GROCERIES", 24.0, 0.75, -1, 0.36, 0.08),
    ("shopping", "SHOPPING", 39.0, 0.95, -1, 0.14, 0.35),
    ("leisure", "LEISURE", 18.0, 0.80, -1, 0.12, 0.22),
    ("transport", "TRANSPORT", 22.0, 0.90, -1, 0.12, 0.12),
    ("travel", "TRAVEL", 180.0, 0.90, -1, 0.02, 0.18),
    ("cash", "CASH", 0.0, 0.0, -1, 0.10, 0.0),
    ("p2p_out", "TRANSFER", 40.0, 1.0, -1, 0.06, 0.0),
    ("p2p_in", "TRANSFER", 45.0, 1.0, 1, 0.04, 0.0),
    ("refund", "SHOPPING", 35.0, 0.80, 1, 0.04, 0.05),
)
_CASH_EUR = np.array([20.0, 50.0, 100.0, 150.0, 200.0, 300.0])
_CASH_P = np.array([0.2, 0.35, 0.25, 0.08, 0.09, 0.03])
P_UNLABELLED = 0.03
P_FAVOURITE = 0.55

# name, mcc, weight, amount factor
_MERCHANTS = {
    "groceries": (
        ("REWE", "5411", 25, 1.0), ("EDEKA", "5411", 20, 1.0), ("ALDI SÜD", "5411", 12, 0.9),
        ("ALDI Nord", "5411", 10, 0.9), ("LIDL", "5411", 18, 0.9), ("Kaufland", "5411", 10, 1.1),
        ("PENNY", "5411", 7, 0.8), ("NETTO Marken-Discount", "5411", 7, 0.8),
        ("NORMA", "5411", 2, 0.8), ("dm-drogerie markt", "5912", 10, 0.6),
        ("ROSSMANN", "5912", 7, 0.6), ("Alnatura", "5411", 2, 0.9),
        ("denn's Biomarkt", "5411", 2, 0.9), ("BIO COMPANY", "5411", 1, 0.9),
        ("Globus SB-Warenhaus", "5411", 2, 1.6), ("tegut", "5411", 1, 1.0),
        ("Bäckerei Kamps", "5462", 3, 0.25), ("BackWerk", "5462", 2, 0.25),
    ),
    "shopping": (
        ("Amazon EU S.a.r.l.", "5999", 30, 1.0), ("PayPal Europe S.a.r.l.", "5999", 8, 1.0),
        ("Zalando SE", "5691", 10, 1.4), ("MediaMarkt", "5732", 6, 2.5), ("Saturn", "5732", 3, 2.5),
        ("OTTO GmbH & Co KG", "5964", 5, 1.5), ("IKEA Deutschland GmbH & Co. KG", "5712", 4, 2.0),
        ("H&M", "5651", 5, 0.9), ("Decathlon", "5941", 3, 1.2), ("DOUGLAS", "5977", 2, 0.8),
        ("Thalia", "5942", 2, 0.5), ("eBay", "5999", 4, 1.0), ("Apple Store", "5732", 2, 4.0),
        ("GALERIA", "5311", 2, 1.0), ("TK Maxx", "5651", 2, 0.9), ("C&A", "5651", 3, 0.9),
        ("Primark", "5651", 2, 0.6), ("OBI", "5200", 3, 1.2), ("HORNBACH", "5200", 2, 1.5),
        ("BAUHAUS", "5200", 2, 1.3), ("Tchibo", "5499", 2, 0.7), ("Temu", "5999", 3, 0.6),
        ("SHEIN", "5651", 2, 0.7),
    ),
    "leisure": (
        ("Lieferando.de", "5814", 8, 1.3), ("McDonald's", "5814", 8, 0.5),
        ("Burger King", "5814", 4, 0.5), ("Starbucks", "5814", 3, 0.35),
        ("Vapiano", "5812", 2, 1.4), ("Restaurant Da Mario", "5812", 3, 2.0),
        ("Trattoria Bella Italia", "5812", 2, 2.0), ("Café Extrablatt", "5812", 2, 1.2),
        ("CinemaxX", "7832", 3, 1.0), ("CineStar", "7832", 3, 1.0), ("Eventim", "7922", 2, 3.0),
        ("Steam", "5816", 2, 1.0), ("PlayStation Store", "5816", 2, 1.2),
        ("Augustiner Bräustuben", "5813", 1, 1.6), ("Fitness First", "7997", 2, 1.5),
        ("Nintendo eShop", "5816", 1, 1.0),
    ),
    "transport": (
        ("DB Fernverkehr AG", "4112", 8, 2.5), ("BVG", "4111", 3, 0.3), ("MVG", "4111", 3, 0.3),
        ("HVV", "4111", 3, 0.3), ("KVB", "4111", 2, 0.3), ("Shell", "5541", 6, 2.8),
        ("Aral", "5541", 6, 2.8), ("ESSO", "5541", 4, 2.8), ("TotalEnergies", "5541", 3, 2.8),
        ("JET", "5541", 3, 2.6), ("Uber BV", "4121", 3, 0.9), ("FREE NOW", "4121", 2, 0.9),
        ("FlixBus", "4131", 3, 1.2), ("SIXT", "7512", 1, 6.0), ("APCOA Parking", "7523", 2, 0.3),
        ("Lime", "4121", 1, 0.2),
    ),
    "travel": (
        ("Deutsche Lufthansa AG", "4511", 4, 1.5), ("Eurowings", "4511", 3, 1.0),
        ("Ryanair", "4511", 2, 0.6), ("Condor", "4511", 1, 1.5), ("Booking.com", "4722", 6, 1.2),
        ("Airbnb", "7011", 3, 1.3), ("TUI Deutschland GmbH", "4722", 3, 3.0),
        ("Expedia", "4722", 2, 1.5), ("Motel One", "7011", 3, 0.6), ("NH Hotels", "7011", 2, 0.8),
        ("Marriott", "7011", 2, 1.2), ("CHECK24 Reisen", "4722", 1, 2.5),
    ),
    "cash": (
        ("Geldautomat Sparkasse", "6011", 10, 1.0), ("Geldautomat Volksbank", "6011", 5, 1.0),
        ("Cash Group Geldautomat", "6011", 5, 1.0), ("Euronet Geldautomat", "6011", 2, 1.0),
    ),
}
_REFUND_MERCHANTS = ("Amazon EU S.a.r.l.", "Zalando SE", "OTTO GmbH & Co KG", "eBay",
                     "PayPal Europe S.a.r.l.", "H&M")
_ENERGY = (
    ("Vattenfall Europe Sales GmbH", 8), ("E.ON Energie Deutschland GmbH", 12),
    ("EnBW Energie Baden-Württemberg AG", 6), ("EWE VERTRIEB GmbH", 3), ("Yello Strom GmbH", 3),
    ("LichtBlick SE", 3), ("Naturstrom AG", 2), ("Mainova AG", 2),
    ("Octopus Energy Germany GmbH", 3), ("Tibber Deutschland GmbH", 1),
)
_TELECOM = (
    ("Telekom Deutschland GmbH", 12), ("Vodafone GmbH", 9),
    ("Telefónica Germany GmbH & Co. OHG", 7), ("1&1 Telecom GmbH", 5), ("congstar GmbH", 3),
    ("freenet DLS GmbH", 2), ("Drillisch Online GmbH", 2), ("M-net Telekommunikations GmbH", 1),
    ("NetCologne GmbH", 1), ("PŸUR Tele Columbus AG", 1),
)
_WATER = ("Berliner Wasserbetriebe", "HAMBURG WASSER", "Stadtentwässerung Dresden GmbH",
          "Abfallwirtschaftsbetrieb München", "Wasserverband Nord", "AWB Köln")
# name, label, EUR amount, period, weight (independent incidence), mcc
_SUBSCRIPTIONS = (
    ("Netflix International B.V.", "LEISURE", 13.99, 1, 0.35, "4899"),
    ("Spotify AB", "LEISURE", 11.99, 1, 0.30, "4899"),
    ("Amazon Digital Germany GmbH", "SHOPPING", 89.90, 12, 0.25, "5999"),
    ("DB Vertrieb GmbH", "TRANSPORT", 58.00, 1, 0.20, "4111"),
    ("McFIT GmbH", "LEISURE", 24.90, 1, 0.15, "7997"),
    ("DAZN Limited", "LEISURE", 34.99, 1, 0.06, "4899"),
    ("Disney Plus", "LEISURE", 9.99, 1, 0.10, "4899"),
)
_INVEST = (("Trade Republic Bank GmbH", None, 4), ("Scalable Capital GmbH", None, 3),
           ("DWS Investment GmbH", None, 2), ("Union Investment Service Bank AG", None, 2),
           ("comdirect bank AG", "20041133", 2), ("ING-DiBa AG", "50010517", 3),
           ("Deka Investment GmbH", None, 2))
_BUILDING_SAVINGS = (("Bausparkasse Schwäbisch Hall AG", None, 4),
                     ("LBS Landesbausparkasse Süd", None, 2),
                     ("Wüstenrot Bausparkasse AG", None, 2), ("BHW Bausparkasse AG", None, 2),
                     ("DKB Deutsche Kreditbank AG", "12030000", 1))
_CONSUMER_LOAN = (("Santander Consumer Bank AG", None, 4), ("TARGOBANK AG", None, 3),
                  ("Consors Finanz BNP Paribas", None, 2), ("Norisbank", "10077777", 1))
_CAR_LOAN = (("Volkswagen Bank GmbH", None, 4), ("BMW Bank GmbH", None, 2),
             ("Mercedes-Benz Bank AG", None, 2), ("Toyota Kreditbank GmbH", None, 1))
_MORTGAGE = (("Sparkasse KölnBonn", "37050198", 2), ("Commerzbank AG", "37040044", 2),
             ("UniCredit Bank - HypoVereinsbank", "70020270", 2),
             ("Hamburger Sparkasse AG", "20050550", 2), ("Frankfurter Sparkasse", "50050201", 1),
             ("Stadtsparkasse München", "70150000", 2), ("Interhyp AG", None, 1))

# Bank codes of the IBAN pool (schwifty knows their check-digit methods).
_POOL_BANK_CODES = (
    "10040000", "10050000", "10010010", "50010517", "12030000", "20041133", "70020270",
    "37040044", "60050101", "70150000", "20050550", "30050110", "37050198", "50050201",
    "76050101", "86055592", "43060967", "10011001", "70010080", "60090100", "50090500",
    "25050180", "36050105", "66050101", "67050505", "44050199", "68050101",
)
IBAN_POOL_SIZE = 4000


@functools.lru_cache(maxsize=1)
def iban_pool() -> tuple[str, ...]:
    """A fixed pool of valid German IBANs (mod 97 and the bank's own check
    digit), made once per process with schwifty from a fixed seed."""
    from schwifty import BBAN, IBAN

    r = random.Random(20240601)
    out: list[str] = []
    seen: set[str] = set()
    i = 0
    while len(out) < IBAN_POOL_SIZE:
        code = _POOL_BANK_CODES[i % len(_POOL_BANK_CODES)]
        i += 1
        bban = BBAN.random("DE", random=r, bank_code=code)
        iban = str(IBAN.generate("DE", bank_code=code, account_code=bban.account_code))
        if iban not in seen:
            seen.add(iban)
            out.append(iban)
    return tuple(out)


def _name_variants(name: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Spellings of one counterparty that share its provider key."""
    out = [name]
    for v in (*extra, name.upper(), name + " "):
        if v not in out:
            out.append(v)
    assert all(provider_key(v) == provider_key(name) for v in out), name
    return out


@dataclass
class _Catalog:
    """Counterparties: arrays indexed by entity, and the name dictionary."""

    names: list[str] = field(default_factory=list)  # unique: the Parquet dictionary
    name_index: dict[str, int] = field(default_factory=dict)
    mccs: list[str] = field(default_factory=list)
    ent_spell: list[list[int]] = field(default_factory=list)  # name indices, canonical first
    ent_pvar: list[float] = field(default_factory=list)
    ent_mcc: list[int] = field(default_factory=list)
    ent_amt: list[float] = field(default_factory=list)
    ent_blz: list[str | None] = field(default_factory=list)
    groups: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)
    people: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def intern(self, name: str) -> int:
        if name not in self.name_index:
            self.name_index[name] = len(self.names)
            self.names.append(name)
        return self.name_index[name]

    def canonical(self, e: int) -> str:
        return self.names[self.ent_spell[e][0]]

    def spellings(self) -> tuple[np.ndarray, np.ndarray]:
        """(entities x most spellings) name indices, and each entity's count."""
        nvar = np.array([len(v) for v in self.ent_spell], dtype=np.int64)
        table = np.zeros((len(nvar), int(nvar.max())), dtype=np.int64)
        for e, v in enumerate(self.ent_spell):
            table[e, : len(v)] = v
        return table, nvar

    def add(self, group: str, name: str, weight: float = 1.0, *, mcc: str | None = None,
            variants: tuple[str, ...] | None = None, p_var: float = 0.0, amt: float = 1.0,
            blz: str | None = None) -> int:
        if name in self.by_name:
            e = self.by_name[name]
        else:
            spellings = _name_variants(name, variants) if variants is not None else [name]
            e = len(self.ent_spell)
            self.by_name[name] = e
            self.ent_spell.append([self.intern(v) for v in spellings])
            self.ent_pvar.append(p_var if len(spellings) > 1 else 0.0)
            if mcc is not None and mcc not in self.mccs:
                self.mccs.append(mcc)
            self.ent_mcc.append(self.mccs.index(mcc) if mcc is not None else -1)
            self.ent_amt.append(amt)
            self.ent_blz.append(blz)
        members, weights = self.groups.setdefault(group, ([], []))
        members.append(e)
        weights.append(float(weight))
        return e

    def group(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        members, weights = self.groups[name]
        w = np.asarray(weights)
        return np.asarray(members, dtype=np.int32), np.cumsum(w / w.sum())


@functools.lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    c = _Catalog()
    # merchants first: a name that is also an employer stays one counterparty
    for cat_name, rows in _MERCHANTS.items():
        for name, mcc, w, amt in rows:
            c.add(cat_name, name, w, mcc=mcc, variants=(), p_var=0.03, amt=amt)
    for name in _BIG_EMPLOYERS:
        c.add("employer", name, 25.0)
    for s in _SURNAMES[:40]:
        for sector in _EMPLOYER_SECTORS:
            c.add("employer", f"{s} {sector}", 1.0)
    for name in _BIG_LANDLORDS:
        c.add("landlord", name, 20.0)
    for s in _SURNAMES[:40]:
        c.add("landlord", f"Hausverwaltung {s}", 2.0)
        c.add("landlord", f"{s} Immobilien GmbH", 2.0)
    for city in _CITIES:
        c.add("landlord", f"Wohnungsbaugenossenschaft {city} eG", 3.0)
    for i, s in enumerate(_SURNAMES):
        for j in range(8):
            c.add("landlord", f"{_FIRST_NAMES[(i * 7 + j * 3) % len(_FIRST_NAMES)]} {s}", 1.0)
    c.add("pension", "Deutsche Rentenversicherung Bund")
    c.add("benefits", "Bundesagentur für Arbeit", 2.0)
    for city in _CITIES[:10]:
        c.add("benefits", f"Jobcenter {city}", 1.0)
    c.add("kindergeld", "Bundesagentur für Arbeit - Familienkasse")
    for city in _CITIES:
        c.add("tax", f"Finanzamt {city}")
    for name, w in _ENERGY:
        c.add("energy", name, w)
    for city in _CITIES[:15]:
        c.add("energy", f"Stadtwerke {city}", 2.0)
    for name, w in _TELECOM:
        c.add("telecom", name, w)
    c.add("broadcast", "ARD ZDF Deutschlandradio Beitragsservice")
    for name in _WATER:
        c.add("water", name)
    for name, types, w, extra in _INSURERS:
        e = c.add("insurer", name, w, variants=extra, p_var=0.12)
        for t in types.split():
            c.add(f"insurer:{t}", name, w)
        assert e == c.by_name[name]
    groups: tuple[tuple[str, tuple[tuple[str, str | None, int], ...]], ...] = (
        ("invest", _INVEST), ("building", _BUILDING_SAVINGS),
        ("consumerloan", _CONSUMER_LOAN), ("carloan", _CAR_LOAN), ("mortgage", _MORTGAGE))
    for group, entries in groups:
        for name, blz, w in entries:
            c.add(group, name, w, blz=blz)
    for name, _label, _eur, _period, _p, mcc in _SUBSCRIPTIONS:
        c.add(f"sub:{name}", name, mcc=mcc)
    for name in _REFUND_MERCHANTS:
        c.add("refund", name, 1.0)
    # People: their names are also the users' own names (for transfers between
    # a user's own accounts); the first 1200 are counterparties with an IBAN.
    people = [f"{f} {s}" for s in _SURNAMES for f in _FIRST_NAMES]
    random.Random(7).shuffle(people)
    for name in people[:1200]:
        c.add("person", name)
    c.people = np.array([c.intern(name) for name in people], dtype=np.int64)
    return c


# ---- calendar helpers ---------------------------------------------------

_EPOCH = dt.date(1970, 1, 1)


def _day(d: dt.date) -> int:
    return (d - _EPOCH).days


def _weekday(d: np.ndarray) -> np.ndarray:
    return (d + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0


def _business_day(d: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  last_of_month: np.ndarray | None = None) -> np.ndarray:
    """Weekend dates move to the next Monday, or back to the Friday when the
    Monday is past `hi` (or past the month's last day, for month-end
    payments); the result is clipped into [lo, hi]."""
    wd = _weekday(d)
    fwd = d + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    back = d - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))
    limit = hi if last_of_month is None else np.minimum(hi, last_of_month)
    out = np.where(fwd > limit, back, fwd)
    return np.clip(out, lo, hi)


def _group_arange(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


# ---- plan: users, accounts, recurring streams, volumes ------------------

@dataclass
class _Streams:
    """Recurring payments, one row per stream (struct of arrays)."""

    user: np.ndarray
    acc: np.ndarray
    acc2: np.ndarray  # mirror account (+amount, TRANSFER) or -1
    label: np.ndarray
    ent: np.ndarray  # counterparty entity, -1 = the user's own name
    period: np.ndarray
    phase: np.ndarray
    day: np.ndarray
    eur: np.ndarray  # signed base amount in EUR; income is filled in per chunk
    growth: np.ndarray  # yearly change of the amount
    noise: np.ndarray  # per-payment relative noise
    purpose: np.ndarray  # first index of the stream's monthly purpose strings
    income: np.ndarray  # bool
    tier: np.ndarray  # 0 always, 1 income/rent, 2 thinned when the target is low
    imp: np.ndarray  # importance within tier 2
    m0: np.ndarray
    count: np.ndarray
    # Rows are grouped in segments (one per kind of stream), each sorted by
    # user, so that a range of users is a slice of every segment: cheaper than
    # one global sort, which would gather ~6M rows at random at 1M accounts.
    seg: np.ndarray

    def _columns(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.__dict__.items() if k != "seg"}

    def select(self, keep: np.ndarray) -> _Streams:
        kept = np.concatenate(([0], np.cumsum(keep)))
        return _Streams(seg=kept[self.seg], **{k: v[keep] for k, v in self._columns().items()})

    def users(self, u0: int, u1: int) -> _Streams:
        parts = []
        for a, b in zip(self.seg[:-1], self.seg[1:], strict=True):
            i, j = np.searchsorted(self.user[a:b], [u0, u1])
            parts.append(np.arange(a + i, a + j))
        idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return _Streams(seg=np.array([0, len(idx)]),
                        **{k: v[idx] for k, v in self._columns().items()})


class _Builder:
    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {}

    def add(self, user: np.ndarray, acc: np.ndarray, label: int | np.ndarray,
            ent: int | np.ndarray, period: int | np.ndarray, phase: int | np.ndarray,
            day: int | np.ndarray, eur: float | np.ndarray, purpose: int,
            tier: int | np.ndarray = 2, imp: float = 1.0, growth: float | np.ndarray = 0.0,
            noise: float = 0.0, acc2: np.ndarray | None = None, income: bool = False) -> None:
        n = len(user)
        if n == 0:
            return

        def full(v: object, dtype: type) -> np.ndarray:
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

        vals = {
            "user": full(user, np.int32), "acc": full(acc, np.int32),
            "acc2": full(-1 if acc2 is None else acc2, np.int32),
            "label": full(label, np.int16), "ent": full(ent, np.int32),
            "period": full(period, np.int8), "phase": full(phase, np.int8),
            "day": full(day, np.int8), "eur": full(eur, np.float64),
            "growth": full(growth, np.float32), "noise": full(noise, np.float32),
            "purpose": full(purpose, np.int32), "income": full(income, np.bool_),
            "tier": full(tier, np.int8), "imp": full(imp, np.float32),
        }
        for k, v in vals.items():
            self.cols.setdefault(k, []).append(v)

    def build(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        sizes = [len(v) for v in self.cols["user"]]
        seg = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        return {k: np.concatenate(v) for k, v in self.cols.items()}, seg


@dataclass
class _Plan:
    params: BankParams
    n_users: int
    n_accounts: int
    target: int
    unit: float  # minor units per EUR
    exponent: int
    h0: int  # first day of the history
    end: int
    months: int
    nm: int  # months + the month of `end`
    ms: np.ndarray  # first day of each month (nm + 1 entries)
    mlen: np.ndarray
    yidx: np.ndarray  # calendar year of each month, relative to the first
    purposes: list[str]
    p_monthly: dict[str, int]
    p_fixed: dict[str, int]
    ent_purpose_chk: np.ndarray
    ent_purpose_cc: np.ndarray
    ent_purpose_ref: np.ndarray
    ent_iban: np.ndarray
    spare_iban: np.ndarray
    user_acc0: np.ndarray  # first account of each user (n_users + 1 entries)
    user_chk: np.ndarray
    user_name: np.ndarray
    user_scale: np.ndarray
    user_base: np.ndarray
    user_bz: np.ndarray
    user_margin: np.ndarray
    user_sday: np.ndarray
    acc_user: np.ndarray
    acc_type: np.ndarray
    acc_opened: np.ndarray
    acc_closed: np.ndarray  # -1 = open
    acc_lo: np.ndarray
    acc_hi: np.ndarray
    acc_nvar: np.ndarray
    acc_dip: np.ndarray  # months below zero for occasional dips (0 = none)
    acc_buffer: np.ndarray  # EUR
    streams: _Streams
    chunk_users: np.ndarray
    id_width: int


def _month_tables(h0: dt.date, nm: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first = np.datetime64(h0, "M")
    starts = (first + np.arange(nm + 1)).astype("datetime64[D]").astype(np.int64)
    years = (first + np.arange(nm)).astype("datetime64[Y]").astype(np.int64)
    return starts, np.diff(starts), years - years[0]


def _validate(p: BankParams) -> int:
    if p.months < 1:
        raise ValueError("months must be at least 1")
    if p.accounts is None and p.users < 1:
        raise ValueError("users must be at least 1")
    if p.accounts is not None and p.accounts < 1:
        raise ValueError("accounts must be at least 1")
    if p.transactions is not None and p.transactions < 0:
        raise ValueError("transactions must not be negative")
    if not 0.0 <= p.below_zero_share <= 1.0:
        raise ValueError("below_zero_share must be between 0 and 1")
    if p.seed < 0:
        raise ValueError("seed must not be negative")
    try:
        exponent = iso4217.Currency(p.currency).exponent
    except ValueError:
        raise ValueError(f"unknown currency {p.currency!r} (ISO 4217 code expected)") from None
    return int(exponent or 0)


def _pick(rng: np.random.Generator, cum: np.ndarray, n: int) -> np.ndarray:
    """n indices drawn with the cumulative probabilities `cum`."""
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def _plan(p: BankParams) -> _Plan:
    exponent = _validate(p)
    cat = _catalog()
    rng = np.random.default_rng(p.seed)

    # -- users and accounts
    if p.accounts is not None:
        a_total = p.accounts
        sav = rng.random(a_total) < P_SAVINGS
        cc = rng.random(a_total) < P_CREDIT_CARD
        cum = np.cumsum(1 + sav.astype(np.int64) + cc)
        n_users = int(np.searchsorted(cum, a_total)) + 1
        sav, cc = sav[:n_users].copy(), cc[:n_users].copy()
        excess = int(cum[n_users - 1]) - a_total
        for _ in range(excess):
            if cc[-1]:
                cc[-1] = False
            else:
                sav[-1] = False
    else:
        n_users = p.users
        sav = rng.random(n_users) < P_SAVINGS
        cc = rng.random(n_users) < P_CREDIT_CARD
    per_user = 1 + sav.astype(np.int64) + cc
    user_acc0 = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(per_user, out=user_acc0[1:])
    n_accounts = int(user_acc0[-1])
    acc_user = np.repeat(np.arange(n_users, dtype=np.int64), per_user)
    k = _group_arange(per_user)
    acc_type = np.where(k == 0, CHECKING,
                        np.where((k == 1) & sav[acc_user], SAVINGS, CREDIT_CARD)).astype(np.int8)
    user_chk = user_acc0[:-1]
    user_sav = np.where(sav, user_chk + 1, -1)

    # -- calendar
    end_d = p.end
    first_month = dt.date(end_d.year, end_d.month, 1)
    mi = end_d.year * 12 + end_d.month - 1 - p.months
    h0_date = dt.date(mi // 12, mi % 12 + 1, 1)
    nm = p.months + 1
    ms, mlen, yidx = _month_tables(h0_date, nm)
    h0, end = _day(h0_date), _day(end_d)
    assert ms[-2] == _day(first_month)
    total_days = end - h0 + 1

    # -- who is special
    n_bz = int(round(p.below_zero_share * n_users))
    bz = np.zeros(n_users, dtype=bool)
    bz[rng.permutation(n_users)[:n_bz]] = True
    long_enough = p.months >= 3
    new = (rng.random(n_users) < P_NEW_CUSTOMER) & ~bz & long_enough
    leaver = (rng.random(n_users) < P_LEAVER) & ~bz & ~new & long_enough

    # -- opening and closing dates
    opened = np.empty(n_accounts, dtype=np.int64)
    closed = np.full(n_accounts, -1, dtype=np.int64)
    chk_open = np.where(new, h0 + rng.integers(0, max(total_days - 60, 1), n_users),
                        h0 - rng.integers(60, 7300, n_users))
    wd = _weekday(chk_open)
    chk_open = chk_open + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    opened[user_chk] = chk_open
    other = acc_type != CHECKING
    u_other = acc_user[other]
    late = rng.random(other.sum()) < P_LATE_OPENED
    base_open = chk_open[u_other]
    o_open = np.where(
        new[u_other],
        np.minimum(base_open + rng.integers(0, 90, len(u_other)), end - 14),
        np.where(late & long_enough, h0 + rng.integers(0, max(total_days - 30, 1), len(u_other)),
                 base_open + (rng.random(len(u_other)) * (h0 - base_open)).astype(np.int64)),
    )
    o_open = np.maximum(o_open, base_open)
    wd = _weekday(o_open)
    o_open = o_open + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    opened[other] = o_open
    # leavers: every account closes on one day, at least 60 days after the last opening
    last_open = np.maximum.reduceat(opened, user_acc0[:-1])
    earliest = np.maximum(last_open, h0) + 60
    leaver &= earliest <= end
    close_day = earliest + (rng.random(n_users) * (end - earliest + 1)).astype(np.int64)
    closed[leaver[acc_user]] = close_day[acc_user[leaver[acc_user]]]
    alone = other & ~leaver[acc_user] & (rng.random(n_accounts) < P_CLOSED) & long_enough
    a_earliest = np.maximum(opened, h0) + 60
    alone &= a_earliest <= end
    closed[alone] = (a_earliest + (rng.random(n_accounts) * (end - a_earliest + 1))
                     .astype(np.int64))[alone]
    acc_lo = np.maximum(opened, h0)
    acc_hi = np.where(closed >= 0, np.minimum(closed - 1, end), end)

    # -- user attributes
    ikind = np.minimum(np.searchsorted([0.82, 0.95], rng.random(n_users), side="right"), 2)
    base = np.where(ikind == 0, np.exp(np.log(2600.0) + 0.40 * rng.standard_normal(n_users)),
                    np.where(ikind == 1,
                             np.exp(np.log(1400.0) + 0.35 * rng.standard_normal(n_users)),
                             np.exp(np.log(1050.0) + 0.15 * rng.standard_normal(n_users))))
    base = np.clip(base, 700.0, 15000.0)
    scale = np.sqrt(base / 2600.0)
    inc_day = np.where(ikind == 0,
                       np.select([rng.random(n_users) < 0.1, rng.random(n_users) < 0.55],
                                 [15, 25 + rng.integers(0, 4, n_users)], 31),
                       np.where(ikind == 1, 31, 1))
    inc_day = np.where(bz, 25 + rng.integers(0, 4, n_users), inc_day)
    renter = bz | (rng.random(n_users) < 0.75)
    rent = np.round(base * rng.uniform(0.22, 0.42, n_users))
    rent_day = 1 + rng.integers(0, 3, n_users)
    name_idx = cat.people[rng.integers(0, len(cat.people), n_users)]
    margin = rng.uniform(0.03, 0.25, n_users)
    sday = 5 + rng.integers(0, 6, n_users)
    users = np.arange(n_users, dtype=np.int64)

    # -- purposes (dictionary strings)
    purposes: list[str] = []
    p_monthly: dict[str, int] = {}
    months_txt = [f"{(h0_date.month - 1 + m) % 12 + 1:02d}/"
                  f"{h0_date.year + (h0_date.month - 1 + m) // 12}" for m in range(nm)]
    for key, fmt in (
        ("salary", "LOHN/GEHALT {}"), ("pension", "RENTE {}"), ("benefits", "LEISTUNG {}"),
        ("kindergeld", "KINDERGELD {}"), ("rent", "MIETE {}"), ("mortgage", "DARLEHENSRATE {}"),
        ("power", "ABSCHLAG STROM {}"), ("gas", "ABSCHLAG GAS {}"),
        ("mobile", "RECHNUNG MOBILFUNK {}"), ("internet", "RECHNUNG INTERNET {}"),
        ("broadcast", "RUNDFUNKBEITRAG {}"), ("water", "WASSER/ABWASSER {}"),
        ("ins:CAR", "KFZ-VERSICHERUNG BEITRAG {}"), ("ins:HEALTH", "KRANKENVERSICHERUNG {}"),
        ("ins:LIFE", "LEBENSVERSICHERUNG BEITRAG {}"),
        ("ins:LIABILITY", "PRIVATHAFTPFLICHT BEITRAG {}"),
        ("ins:HOUSEHOLD", "HAUSRATVERSICHERUNG BEITRAG {}"),
        ("ins:LEGAL", "RECHTSSCHUTZ BEITRAG {}"), ("sub", "ABO {}"),
        ("savings", "SPARRATE {}"), ("interest", "ZINSEN {}"), ("invest", "SPARPLAN {}"),
        ("building", "BAUSPARVERTRAG {}"), ("loan", "KREDITRATE {}"),
        ("tax", "EINKOMMENSTEUER ERSTATTUNG {}"), ("card", "KREDITKARTENABRECHNUNG {}"),
    ):
        p_monthly[key] = len(purposes)
        purposes.extend(fmt.format(t) for t in months_txt)
    p_fixed = {}
    for key, text in (("closing", "KONTOAUFLOESUNG SALDO"),):
        p_fixed[key] = len(purposes)
        purposes.append(text)
    p_fixed["p2p"] = len(purposes)
    purposes.extend(("Danke!", "Geschenk", "Anteil Miete", "Abendessen", "Urlaub", "Rückzahlung",
                     "Taschengeld", "Konzertkarten", "Geburtstag", "WG-Kasse"))
    n_ent = len(cat.ent_spell)
    ent_purpose_chk = np.full(n_ent, -1, dtype=np.int32)
    ent_purpose_cc = np.full(n_ent, -1, dtype=np.int32)
    for cname in _MERCHANTS:
        for e in cat.groups[cname][0]:
            name = cat.canonical(e)
            ent_purpose_chk[e] = len(purposes)
            purposes.append(f"{name} // girocard Kartenzahlung" if cname != "cash"
                            else f"Bargeldauszahlung {name}")
            ent_purpose_cc[e] = len(purposes)
            purposes.append(f"{name} // Kreditkarte")
    ent_purpose_ref = np.full(n_ent, -1, dtype=np.int32)
    for e in cat.groups["refund"][0]:
        ent_purpose_ref[e] = len(purposes)
        purposes.append(f"Erstattung Retoure {cat.canonical(e)}")

    # -- counterparty IBANs: a seed-dependent assignment from the fixed pool
    pool = iban_pool()
    by_blz: dict[str, list[int]] = {}
    for i, iban in enumerate(pool):
        by_blz.setdefault(iban[4:12], []).append(i)
    ent_iban = np.full(n_ent, -1, dtype=np.int32)
    perm = [int(x) for x in rng.permutation(len(pool))]
    used: set[int] = set()
    for e, blz in enumerate(cat.ent_blz):
        if blz is not None and by_blz.get(blz):
            ent_iban[e] = by_blz[blz][e % len(by_blz[blz])]
            used.add(int(ent_iban[e]))
    free = iter(i for i in perm if i not in used)
    for e in range(n_ent):
        if ent_iban[e] < 0:
            ent_iban[e] = next(free)
    spare_iban = np.fromiter(free, dtype=np.int32)  # users' accounts at other banks

    # -- recurring streams
    b = _Builder()
    L = _L

    def choose(group: str, n: int) -> np.ndarray:
        members, cum = cat.group(group)
        return members[_pick(rng, cum, n)]

    tier01 = np.where(bz, 0, 1)
    for kind, label, group, purpose in ((0, "SALARY", "employer", "salary"),
                                        (1, "INCOME.PENSION", "pension", "pension"),
                                        (2, "INCOME.BENEFITS", "benefits", "benefits")):
        u = users[ikind == kind]
        b.add(u, user_chk[u], L[label], choose(group, len(u)), 1, 0, inc_day[u], base[u],
              p_monthly[purpose], tier=tier01[u], income=True,
              growth=np.where(bz[u], 0.0, rng.uniform(0.0, 0.04, len(u))))
    u = users[renter]
    b.add(u, user_chk[u], L["RENTANDLIVING.RENT"], choose("landlord", len(u)), 1, 0,
          rent_day[u], -rent[u], p_monthly["rent"], tier=tier01[u],
          growth=np.where(rng.random(len(u)) < 0.2, rng.uniform(0.02, 0.06, len(u)), 0.0))
    u = users[~renter & (rng.random(n_users) < 0.45)]
    b.add(u, user_chk[u], L["LOANANDINTEREST.REALESTATELOAN"], choose("mortgage", len(u)), 1, 0,
          np.where(rng.random(len(u)) < 0.5, 30, 1),
          -np.round(base[u] * rng.uniform(0.2, 0.4, len(u))), p_monthly["mortgage"], imp=3.0)
    u = users[rng.random(n_users) < 0.90]
    b.add(u, user_chk[u], L["RENTANDLIVING.ENERGY"], choose("energy", len(u)), 1, 0,
          1 + rng.integers(0, 28, len(u)), -np.round(rng.uniform(35, 150, len(u))),
          p_monthly["power"], imp=2.0, growth=rng.normal(0.03, 0.08, len(u)))
    u = users[rng.random(n_users) < 0.25]
    b.add(u, user_chk[u], L["RENTANDLIVING.ENERGY"], choose("energy", len(u)), 1, 0,
          1 + rng.integers(0, 28, len(u)), -np.round(rng.uniform(50, 180, len(u))),
          p_monthly["gas"], imp=1.5, growth=rng.normal(0.0, 0.10, len(u)))
    u = users[rng.random(n_users) < 0.90]
    b.add(u, user_chk[u], L["RENTANDLIVING.TELECOM"], choose("telecom", len(u)), 1, 0,
          1 + rng.integers(0, 28, len(u)), -np.round(rng.uniform(8, 45, len(u)), 2),
          p_monthly["mobile"], imp=1.5, noise=0.04)
    u = users[rng.random(n_users) < 0.70]
    b.add(u, user_chk[u], L["RENTANDLIVING.TELECOM"], choose("telecom", len(u)), 1, 0,
          1 + rng.integers(0, 28, len(u)), -(np.floor(rng.uniform(24, 55, len(u))) + 0.99),
          p_monthly["internet"], imp=1.0)
    u = users[rng.random(n_users) < 0.85]
    b.add(u, user_chk[u], L["RENTANDLIVING.UTILITIES"], choose("broadcast", len(u)), 3,
          rng.integers(0, 3, len(u)), 15, -55.08, p_monthly["broadcast"], imp=1.0)
    u = users[rng.random(n_users) < 0.20]
    b.add(u, user_chk[u], L["RENTANDLIVING.UTILITIES"], choose("water", len(u)), 3,
          rng.integers(0, 3, len(u)), 1 + rng.integers(0, 28, len(u)),
          -np.round(rng.uniform(40, 150, len(u)), 2), p_monthly["water"], imp=1.0)
    for t in _INSURANCE_TYPES:
        incidence, median, sigma, fw = _INSURANCE_MODEL[t]
        u = users[rng.random(n_users) < incidence]
        period = _PERIODS[_pick(rng, np.cumsum(fw), len(u))]
        annual = np.exp(np.log(median) + sigma * rng.standard_normal(len(u))) * scale[u] ** 0.5
        b.add(u, user_chk[u], L[f"INSURANCE.{t}"], choose(f"insurer:{t}", len(u)), period,
              (rng.random(len(u)) * period).astype(np.int64), 1 + rng.integers(0, 15, len(u)),
              -np.round(annual * period / 12.0, 2), p_monthly[f"ins:{t}"], imp=3.0,
              growth=np.where(rng.random(len(u)) < 0.5, rng.uniform(0.0, 0.06, len(u)), 0.0))
    for name, label, eur, period, incidence, _mcc in _SUBSCRIPTIONS:
        u = users[rng.random(n_users) < incidence]
        b.add(u, user_chk[u], L[label], cat.by_name[name], period,
              (rng.random(len(u)) * period).astype(np.int64), 1 + rng.integers(0, 28, len(u)),
              -eur, p_monthly["sub"], imp=1.0)
    u = users[sav & ~bz & (rng.random(n_users) < 0.65)]
    b.add(u, user_chk[u], L["SAVINGS"], -1, 1, 0,
          np.where(rng.random(len(u)) < 0.7, 1 + rng.integers(0, 5, len(u)), 28),
          -25.0 * (1 + rng.integers(0, 20, len(u))), p_monthly["savings"], imp=2.0,
          acc2=user_sav[u])
    u = users[sav & (rng.random(n_users) < 0.7)]
    b.add(u, user_sav[u], L["INCOME.CAPITALINCOME"], -2, 3, 2, 31,
          np.round(rng.uniform(0.5, 40.0, len(u)), 2), p_monthly["interest"], imp=0.5,
          noise=0.3)
    for group, label, share, lo_eur, hi_eur, pkey in (
        ("invest", "INVESTMENTS", 0.14, 25, 500, "invest"),
        ("building", "SAVINGS", 0.08, 20, 200, "building"),
        ("consumerloan", "LOANANDINTEREST.CONSUMERLOAN", 0.08, 80, 400, "loan"),
        ("carloan", "LOANANDINTEREST.CARLOAN", 0.07, 150, 500, "loan"),
    ):
        u = users[~bz & (rng.random(n_users) < share)]
        b.add(u, user_chk[u], L[label], choose(group, len(u)), 1, 0,
              np.where(rng.random(len(u)) < 0.5, 1, 15),
              -np.round(rng.uniform(lo_eur, hi_eur, len(u))), p_monthly[pkey], imp=3.0)
    u = users[rng.random(n_users) < 0.18]
    b.add(u, user_chk[u], L["INCOME.BENEFITS"],
          cat.by_name["Bundesagentur für Arbeit - Familienkasse"], 1, 0,
          5 + rng.integers(0, 10, len(u)), 255.0, p_monthly["kindergeld"], imp=1.0)
    u = users[rng.random(n_users) < 0.30]
    b.add(u, user_chk[u], L["TAX"], choose("tax", len(u)), 12, 4 + rng.integers(0, 5, len(u)),
          1 + rng.integers(0, 28, len(u)),
          np.round(np.exp(np.log(600.0) + 0.8 * rng.standard_normal(len(u))), 2),
          p_monthly["tax"], imp=1.0, noise=0.4)

    cols, seg = b.build()
    # the stream's active days: the intersection of its accounts' open days
    s_lo = acc_lo[cols["acc"]]
    s_hi = acc_hi[cols["acc"]]
    mirror = cols["acc2"] >= 0
    a2 = np.where(mirror, cols["acc2"], cols["acc"])
    s_lo = np.maximum(s_lo, acc_lo[a2])
    s_hi = np.minimum(s_hi, acc_hi[a2])
    m0, count = _occurrences(ms, mlen, s_lo, s_hi, cols["period"].astype(np.int64),
                             cols["phase"].astype(np.int64), cols["day"].astype(np.int64))
    streams = _Streams(m0=m0.astype(np.int32), count=count.astype(np.int32), seg=seg, **cols)

    # -- volume: thin tier-2 streams if needed, then size the irregular events
    closed_n = int((closed >= 0).sum())
    target = (p.transactions if p.transactions is not None
              else int(round(TX_PER_ACCOUNT_PER_24_MONTHS * n_accounts * p.months / 24)))
    rows = count * (1 + mirror)
    keep = np.ones(len(count), dtype=bool)
    tier = streams.tier
    r0 = int(rows[tier == 0].sum())
    r1 = int(rows[tier == 1].sum())
    t2 = tier == 2
    u_keep = rng.random(len(count))
    avail = target - closed_n - r0
    var_min = int(VARIABLE_MIN_SHARE * target)
    if avail < 0:
        keep[tier == 0] = u_keep[tier == 0] < (avail + r0) / max(r0, 1)
        keep[tier > 0] = False
    elif avail <= r1:
        keep[tier == 1] = u_keep[tier == 1] < avail / max(r1, 1)
        keep[t2] = False
    else:
        budget2 = avail - r1 - var_min
        imp_levels, imp_of = np.unique(streams.imp[t2], return_inverse=True)
        r2 = np.bincount(imp_of, weights=rows[t2])
        imp = imp_levels.astype(np.float64)
        if budget2 >= r2.sum():
            pass
        elif budget2 <= 0:
            keep[t2] = False
        else:
            lo_r, hi_r = 0.0, 1.0 / max(float(imp.min()), 1e-9)
            for _ in range(60):
                mid = (lo_r + hi_r) / 2
                if (r2 * np.minimum(1.0, mid * imp)).sum() > budget2:
                    hi_r = mid
                else:
                    lo_r = mid
            keep[t2] = u_keep[t2] < np.minimum(1.0, lo_r * imp)[imp_of]
    keep &= count > 0
    streams = streams.select(keep)
    rec_rows = int((streams.count * (1 + (streams.acc2 >= 0))).sum())
    var_rows = max(target - closed_n - rec_rows, 0)

    activity = np.exp(0.5 * rng.standard_normal(n_users))
    days_open = np.maximum(acc_hi - acc_lo + 1, 0).astype(np.float64)
    w = activity[acc_user] * days_open * np.where(
        acc_type == CHECKING, 1.0, np.where(acc_type == CREDIT_CARD, CC_ACTIVITY, 0.0))
    nvar = np.zeros(n_accounts, dtype=np.int64)
    if var_rows > 0 and w.sum() > 0:
        pw = w / w.sum()
        k_events = _solve_events(var_rows, pw, acc_type, acc_lo, acc_hi, ms)
        pw = pw / pw.sum()
        nvar = rng.multinomial(k_events, pw).astype(np.int64)

    # -- how each CHECKING account's starting balance is chosen
    acc_dip = np.zeros(n_accounts, dtype=np.int64)
    chk_full = (~bz & ~new & ~leaver & (rng.random(n_users) < P_OCCASIONAL_DIP)
                & (p.months >= 2))
    acc_dip[user_chk[chk_full]] = 1 + rng.integers(0, min(3, p.months - 1), chk_full.sum())
    acc_buffer = np.where(acc_type == SAVINGS,
                          np.exp(np.log(4000.0) + 1.0 * rng.standard_normal(n_accounts)),
                          np.exp(np.log(900.0) + 0.9 * rng.standard_normal(n_accounts))
                          * scale[acc_user])
    acc_buffer = np.where(bz[acc_user] & (acc_type == CHECKING),
                          rng.uniform(5.0, 250.0, n_accounts), acc_buffer)

    # -- chunks of about CHUNK_ROWS rows, cut at user boundaries
    exp_rows = (np.bincount(streams.user, weights=streams.count * (1 + (streams.acc2 >= 0)),
                            minlength=n_users)
                + np.bincount(acc_user, weights=nvar * np.where(acc_type == CREDIT_CARD, 1.4, 1.0),
                              minlength=n_users))
    cum_rows = np.cumsum(exp_rows)
    n_chunks = max(1, int(np.ceil(cum_rows[-1] / CHUNK_ROWS))) if n_users else 1
    cuts = np.searchsorted(cum_rows, CHUNK_ROWS * np.arange(1, n_chunks))
    chunk_users = np.unique(np.concatenate(([0], np.minimum(cuts + 1, n_users), [n_users])))

    id_width = max(9, len(str(int(target * 1.25) + 1000)))
    return _Plan(
        params=p, n_users=n_users, n_accounts=n_accounts, target=target,
        unit=_FX_PER_EUR.get(p.currency, 1.0) * 10 ** exponent, exponent=exponent,
        h0=h0, end=end, months=p.months, nm=nm, ms=ms, mlen=mlen, yidx=yidx,
        purposes=purposes, p_monthly=p_monthly, p_fixed=p_fixed,
        ent_purpose_chk=ent_purpose_chk, ent_purpose_cc=ent_purpose_cc,
        ent_purpose_ref=ent_purpose_ref, ent_iban=ent_iban, spare_iban=spare_iban,
        user_acc0=user_acc0, user_chk=user_chk, user_name=name_idx, user_scale=scale,
        user_base=base, user_bz=bz, user_margin=margin, user_sday=sday,
        acc_user=acc_user, acc_type=acc_type, acc_opened=opened, acc_closed=closed,
        acc_lo=acc_lo, acc_hi=acc_hi, acc_nvar=nvar, acc_dip=acc_dip, acc_buffer=acc_buffer,
        streams=streams, chunk_users=chunk_users, id_width=id_width,
    )


def _sched(ms: np.ndarray, mlen: np.ndarray, m: np.ndarray, day: np.ndarray) -> np.ndarray:
    mc = np.clip(m, 0, len(mlen) - 1)
    return ms[mc] + np.minimum(day, mlen[mc]) - 1


def _occurrences(ms: np.ndarray, mlen: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 period: np.ndarray, phase: np.ndarray, day: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """First month and number of a stream's payments whose scheduled day lies
    in [lo, hi]: months m with (m - phase) % period == 0."""
    nm = len(mlen)
    mlo = np.searchsorted(ms, lo, side="right") - 1
    mhi = np.searchsorted(ms, hi, side="right") - 1
    mlo = np.where(_sched(ms, mlen, mlo, day) < lo, mlo + 1, mlo)
    mhi = np.where(_sched(ms, mlen, mhi, day) > hi, mhi - 1, mhi)
    mlo = mlo + (phase - mlo) % period
    mhi = mhi - (mhi - phase) % period
    mhi = np.minimum(mhi, nm - 1)
    count = np.where((hi >= lo) & (mhi >= mlo), (mhi - mlo) // period + 1, 0)
    return mlo, count


def _solve_events(rows: int, pw: np.ndarray, acc_type: np.ndarray, lo: np.ndarray,
                  hi: np.ndarray, ms: np.ndarray) -> int:
    """Number of irregular events such that they plus the expected credit-card
    settlements they cause (two rows per settled card month) make `rows`."""
    card = (acc_type == CREDIT_CARD) & (pw > 0)
    if not card.any():
        return rows
    p = pw[card]
    mlo = np.searchsorted(ms, lo[card], side="right") - 1
    mhi = np.searchsorted(ms, hi[card], side="right") - 1
    months = (mhi - mlo + 1).astype(np.float64)
    settled = np.maximum(months - 1, 0)
    log_miss = np.log1p(-1.0 / np.maximum(months, 1.0000001))

    def total(k: float) -> float:
        return k + float((2 * settled * (1 - np.exp(k * p * log_miss))).sum())

    lo_k, hi_k = 0.0, float(rows)
    for _ in range(60):
        mid = (lo_k + hi_k) / 2
        if total(mid) > rows:
            hi_k = mid
        else:
            lo_k = mid
    return int(round(lo_k))


# ---- one chunk of users -------------------------------------------------

_COLS = ("acc", "d", "amt", "lab", "nm", "ib", "pu", "mc", "flag")
_FLAG_INCOME, _FLAG_CLOSING = 1, 2


@dataclass
class _Chunk:
    table: pa.Table
    n_rows: int
    a0: int
    balances: np.ndarray


def _to_minor(eur: np.ndarray, unit: float) -> np.ndarray:
    return np.rint(eur * unit).astype(np.int64)


def _gen_chunk(P: _Plan, ci: int, t0: int, fmt: str) -> _Chunk:
    cat = _catalog()
    u0, u1 = int(P.chunk_users[ci]), int(P.chunk_users[ci + 1])
    a0, a1 = int(P.user_acc0[u0]), int(P.user_acc0[u1])
    na = a1 - a0
    rng = np.random.default_rng([P.params.seed, 7, ci])
    ms, mlen, nm = P.ms, P.mlen, P.nm
    lo, hi = P.acc_lo[a0:a1], P.acc_hi[a0:a1]
    atype = P.acc_type[a0:a1]
    auser = P.acc_user[a0:a1]
    spell, ent_nvar = cat.spellings()
    ent_pvar = np.asarray(cat.ent_pvar)
    ent_mcc = np.asarray(cat.ent_mcc, dtype=np.int64)
    ent_amt = np.asarray(cat.ent_amt)
    parts: list[dict[str, np.ndarray]] = []

    def spelled(ent: np.ndarray) -> np.ndarray:
        """The entity's name, sometimes in one of its other spellings."""
        nv = ent_nvar[ent]
        var = rng.random(len(ent)) < ent_pvar[ent]
        alt = 1 + (rng.random(len(ent)) * np.maximum(nv - 1, 1)).astype(np.int64)
        return spell[ent, np.where(var & (nv > 1), alt, 0)]

    # -- recurring streams
    st = P.streams.users(u0, u1)
    rep = np.repeat(np.arange(len(st.count)), st.count)
    if len(rep):
        m = st.m0[rep].astype(np.int64) + _group_arange(st.count) * st.period[rep]
        acc_g = st.acc[rep].astype(np.int64)
        acc2_g = st.acc2[rep].astype(np.int64)
        a2 = np.where(acc2_g >= 0, acc2_g, acc_g)
        s_lo = np.maximum(P.acc_lo[acc_g], P.acc_lo[a2])
        s_hi = np.minimum(P.acc_hi[acc_g], P.acc_hi[a2])
        d = _business_day(_sched(ms, mlen, m, st.day[rep].astype(np.int64)), s_lo, s_hi,
                          ms[m] + mlen[m] - 1)
        factor = (1.0 + st.growth[rep].astype(np.float64)) ** P.yidx[m]
        noise = st.noise[rep]
        factor = factor * np.where(noise > 0, 1.0 + noise * rng.standard_normal(len(rep)), 1.0)
        amt = _to_minor(st.eur[rep] * factor, P.unit)
        out = st.eur[rep] < 0
        amt = np.where(out, np.minimum(amt, -1), np.maximum(amt, 1))
        ent = st.ent[rep]
        own = ent < 0
        entc = np.maximum(ent, 0)
        user_g = st.user[rep].astype(np.int64)
        nm_idx = np.where(own, P.user_name[user_g], spelled(entc))
        nm_idx = np.where(ent == -2, -1, nm_idx)
        parts.append({
            "acc": acc_g - a0, "d": d, "amt": amt, "lab": st.label[rep].astype(np.int64),
            "nm": nm_idx, "ib": np.where(own, -1, P.ent_iban[entc]),
            "pu": st.purpose[rep] + m,
            "mc": np.where(st.purpose[rep] == P.p_monthly["sub"], ent_mcc[entc], -1),
            "flag": np.where(st.income[rep], _FLAG_INCOME, 0),
        })
        mir = acc2_g >= 0
        if mir.any():
            parts.append({
                "acc": acc2_g[mir] - a0, "d": d[mir], "amt": -amt[mir],
                "lab": np.full(int(mir.sum()), _L["TRANSFER"]), "nm": P.user_name[user_g[mir]],
                "ib": np.full(int(mir.sum()), -1), "pu": (st.purpose[rep] + m)[mir],
                "mc": np.full(int(mir.sum()), -1), "flag": np.zeros(int(mir.sum()), np.int64),
            })

    # -- irregular events: card payments, cash, refunds, transfers with people
    nvar = P.acc_nvar[a0:a1]
    vacc = np.repeat(np.arange(na), nvar)
    nv = len(vacc)
    if nv:
        vlo, vhi = lo[vacc], hi[vacc]
        d = vlo + (rng.random(nv) * (vhi - vlo + 1)).astype(np.int64)
        d = _business_day(np.minimum(d, vhi), vlo, vhi)
        is_cc = atype[vacc] == CREDIT_CARD
        pc = np.array([c[5] for c in _VAR_CATEGORIES])
        pk = np.array([c[6] for c in _VAR_CATEGORIES])
        cvar = np.where(is_cc, _pick(rng, np.cumsum(pk / pk.sum()), nv),
                        _pick(rng, np.cumsum(pc / pc.sum()), nv))
        vuser = auser[vacc]
        uloc = vuser - u0
        nu = u1 - u0
        ent = np.empty(nv, dtype=np.int64)
        groups = [c[0] if c[0] not in ("p2p_out", "p2p_in") else "person"
                  for c in _VAR_CATEGORIES]
        use_fav = rng.random(nv) < P_FAVOURITE
        for ci_, g in enumerate(groups):
            sel = cvar == ci_
            if not sel.any():
                continue
            members, cum = cat.group(g)
            fav = members[_pick(rng, cum, nu)]
            anyone = members[_pick(rng, cum, int(sel.sum()))]
            ent[sel] = np.where(use_fav[sel], fav[uloc[sel]], anyone)
        med = np.array([c[2] for c in _VAR_CATEGORIES])
        sig = np.array([c[3] for c in _VAR_CATEGORIES])
        sign = np.array([c[4] for c in _VAR_CATEGORIES])
        eur = (med[cvar] * ent_amt[ent] * P.user_scale[vuser]
               * np.exp(sig[cvar] * rng.standard_normal(nv)))
        cash = cvar == 5
        eur = np.where(cash, _CASH_EUR[_pick(rng, np.cumsum(_CASH_P), nv)], eur)
        amt = sign[cvar] * np.maximum(_to_minor(eur, P.unit), 1)
        labels = np.array([_L[c[1]] for c in _VAR_CATEGORIES])
        lab = np.where((rng.random(nv) < P_UNLABELLED) & ~cash, -1, labels[cvar])
        p2p = (cvar == 6) | (cvar == 7)
        refund = cvar == 8
        pu = np.where(is_cc, P.ent_purpose_cc[ent], P.ent_purpose_chk[ent])
        pu = np.where(p2p, P.p_fixed["p2p"] + rng.integers(0, 10, nv), pu)
        pu = np.where(refund, P.ent_purpose_ref[ent], pu)
        parts.append({
            "acc": vacc, "d": d, "amt": amt, "lab": lab, "nm": spelled(ent),
            "ib": np.where((is_cc & ~p2p) | cash, -1, P.ent_iban[ent]),
            "pu": pu, "mc": np.where(p2p | refund, -1, ent_mcc[ent]),
            "flag": np.zeros(nv, np.int64),
        })

        # credit-card bills: last month's net card spending, moved from CHECKING
        if is_cc.any():
            cacc = vacc[is_cc]
            cm = np.searchsorted(ms, d[is_cc], side="right") - 1
            key = cacc * nm + cm
            net = np.zeros(na * nm, dtype=np.int64)
            np.add.at(net, key, amt[is_cc])
            keys = np.flatnonzero(net)
            bill_acc, bill_m = keys // nm, keys % nm
            ok = bill_m + 1 < nm
            bill_acc, bill_m, bill_net = bill_acc[ok], bill_m[ok], net[keys][ok]
            chk = P.user_chk[auser[bill_acc]] - a0
            b_lo = np.maximum(lo[bill_acc], lo[chk])
            b_hi = np.minimum(hi[bill_acc], hi[chk])
            bd = _sched(ms, mlen, bill_m + 1, P.user_sday[auser[bill_acc]])
            ok = (bd >= b_lo) & (bd <= b_hi)
            bill_acc, bill_m, bill_net, chk = bill_acc[ok], bill_m[ok], bill_net[ok], chk[ok]
            bd = _business_day(bd[ok], b_lo[ok], b_hi[ok], ms[bill_m + 1] + mlen[bill_m + 1] - 1)
            names = P.user_name[auser[bill_acc]]
            nb = len(bill_acc)
            pu = P.p_monthly["card"] + bill_m
            for acc_, sgn in ((bill_acc, -1), (chk, 1)):
                parts.append({
                    "acc": acc_, "d": bd, "amt": sgn * bill_net,
                    "lab": np.full(nb, _L["TRANSFER"]), "nm": names, "ib": np.full(nb, -1),
                    "pu": pu, "mc": np.full(nb, -1), "flag": np.zeros(nb, np.int64),
                })

    # -- closing transfers (amount filled in once the balance is known)
    closed = P.acc_closed[a0:a1]
    cl = np.flatnonzero(closed >= 0)
    if len(cl):
        n = len(cl)
        parts.append({
            "acc": cl, "d": _business_day(hi[cl], lo[cl], hi[cl]), "amt": np.zeros(n, np.int64),
            "lab": np.full(n, _L["TRANSFER"]), "nm": P.user_name[auser[cl]],
            "ib": P.spare_iban[rng.integers(0, len(P.spare_iban), n)],
            "pu": np.full(n, P.p_fixed["closing"]), "mc": np.full(n, -1),
            "flag": np.full(n, _FLAG_CLOSING),
        })

    cols = {k: np.concatenate([p_[k] for p_ in parts]) if parts else np.zeros(0, np.int64)
            for k in _COLS}

    # -- income: what the user spends, plus a margin (the below-zero users:
    # exactly what they spend, so that their balance stays near its start)
    inc = cols["flag"] == _FLAG_INCOME
    if inc.any():
        on_chk = atype[cols["acc"]] == CHECKING
        spend_mask = on_chk & (cols["amt"] < 0)
        uidx = auser[cols["acc"]] - u0
        nu = u1 - u0
        spend = np.zeros(nu, dtype=np.int64)
        np.add.at(spend, uidx[spend_mask], -cols["amt"][spend_mask])
        n_inc = np.bincount(uidx[inc], minlength=nu)
        users = np.arange(u0, u1)
        per = spend / np.maximum(n_inc, 1) / P.unit
        bz = P.user_bz[users]
        # (the others: a savings margin on top, but at least INCOME_FLOOR of the
        # drawn income, so that thin data does not make everyone rich or poor)
        want = np.where(bz, per * rng.uniform(0.995, 1.01, nu),
                        np.maximum(INCOME_FLOOR * P.user_base[users],
                                   per * (1 + P.user_margin[users])))
        ui = uidx[inc]
        # raises apply to the base amount; growth was already in amt/eur of the stream
        ratio = cols["amt"][inc] / np.maximum(_to_minor(P.user_base[users[ui]], P.unit), 1)
        cols["amt"][inc] = np.maximum(_to_minor(want[ui] * ratio, P.unit), 1)

    # -- sort by account, then day; closings last in their account
    ndays = P.end - P.h0 + 2
    key = cols["acc"] * (ndays + 1) + np.where(cols["flag"] == _FLAG_CLOSING, ndays,
                                               cols["d"] - P.h0)
    order = np.argsort(key, kind="stable")
    cols = {k: v[order] for k, v in cols.items()}
    acc, d, amt = cols["acc"], cols["d"], cols["amt"]
    n = len(acc)

    # -- starting balances
    counts = np.bincount(acc, minlength=na)
    starts = np.cumsum(counts) - counts
    cum = np.cumsum(amt)
    before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0)
    s = cum - np.repeat(before, counts)  # S after each row, per account
    total = np.zeros(na, dtype=np.int64)
    has = counts > 0
    total[has] = s[starts[has] + counts[has] - 1]
    day_end = np.ones(n, dtype=bool)
    if n > 1:
        day_end[:-1] = (acc[1:] != acc[:-1]) | (d[1:] != d[:-1])
    big = np.iinfo(np.int64).max
    s_de = np.where(day_end, s, big)
    min_s = np.zeros(na, dtype=np.int64)
    min_s[has] = np.minimum.reduceat(s_de, starts[has])
    min_s = np.minimum(min_s, 0)

    buffer = _to_minor(P.acc_buffer[a0:a1], P.unit)
    start = np.where(atype == CREDIT_CARD, 0, -min_s + np.maximum(buffer, 1))
    bz_acc = P.user_bz[auser] & (atype == CHECKING)
    dip = P.acc_dip[a0:a1]
    monthly = bz_acc | (dip > 0)
    if monthly.any() and n:
        # lowest S per complete month, counting the carry-in from the month before
        mon = np.searchsorted(ms, d, side="right") - 1
        gkey = acc * nm + mon
        first = np.ones(n, dtype=bool)
        first[1:] = gkey[1:] != gkey[:-1]
        gstart = np.flatnonzero(first)
        gmin = np.minimum.reduceat(s_de, gstart)
        glast = np.append(gstart[1:], n) - 1
        mins = np.full((na, nm), big, dtype=np.int64)
        ends = np.zeros((na, nm), dtype=np.int64)
        filled = np.zeros((na, nm), dtype=bool)
        ga, gm = acc[gstart], mon[gstart]
        mins[ga, gm] = gmin
        ends[ga, gm] = s[glast]
        filled[ga, gm] = True
        idx = np.where(filled, np.arange(nm), -1)
        idx = np.maximum.accumulate(idx, axis=1)
        s_end = np.where(idx >= 0, np.take_along_axis(ends, np.maximum(idx, 0), axis=1), 0)
        carry = np.zeros((na, nm), dtype=np.int64)
        carry[:, 1:] = s_end[:, :-1]
        month_min = np.minimum(mins, carry)[:, : P.months]
        top = month_min.max(axis=1)
        start = np.where(bz_acc, -top - np.maximum(buffer, 1), start)
        srt = np.sort(month_min, axis=1)
        kth = srt[np.arange(na), np.minimum(dip, P.months - 1)]
        start = np.where(~bz_acc & (dip > 0), -kth, start)

    clos = cols["flag"] == _FLAG_CLOSING
    if clos.any():
        # a closed account without any other booking was empty all along
        empty = counts - np.bincount(acc[clos], minlength=na) == 0
        start = np.where((closed >= 0) & empty, 0, start)
        amt[clos] = -(start[acc[clos]] + total[acc[clos]])
        total[acc[clos]] += amt[clos]
    balances = start + total

    # -- drop closings of accounts that were already at zero
    keep = ~clos | (amt != 0)
    if not keep.all():
        cols = {k: v[keep] for k, v in cols.items()}
        acc, d, amt = cols["acc"], cols["d"], cols["amt"]
        n = len(acc)

    table = _tx_table(P, cols, a0, a1, t0, fmt)
    return _Chunk(table=table, n_rows=n, a0=a0, balances=balances)


# ---- Arrow tables ---------------------------------------------------------

_DICT = pa.dictionary(pa.int32(), pa.string())


def _fixed_ids(prefix: str, first: int, n: int, width: int) -> pa.Array:
    """prefix + zero-padded numbers first..first+n-1 as one string array."""
    w = len(prefix) + width
    buf = np.empty((n, w), dtype=np.uint8)
    buf[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    v = np.arange(first, first + n, dtype=np.int64)
    for j in range(width - 1, -1, -1):
        buf[:, len(prefix) + j] = 48 + v % 10
        v //= 10
    offsets = (np.arange(n + 1, dtype=np.int64) * w).astype(np.int32 if n * w < 2**31 else np.int64)
    typ = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    arr = pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)])
    return arr.cast(pa.string()) if typ != pa.string() else arr


def _dict_col(idx: np.ndarray, dictionary: pa.Array) -> pa.DictionaryArray:
    idx32 = idx.astype(np.int32)
    mask = idx32 < 0
    indices = pa.array(idx32, mask=mask if mask.any() else None, type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _money(v: np.ndarray, fmt: str, exponent: int) -> pa.Array:
    """int64 minor units as they are (Parquet), or as an exact decimal in major
    units (CSV): the decimal's unscaled value is the integer itself."""
    v = np.ascontiguousarray(v, dtype=np.int64)
    if fmt == "parquet":
        return pa.array(v, type=pa.int64())
    words = np.empty((len(v), 2), dtype=np.int64)
    words[:, 0] = v
    words[:, 1] = v >> 63
    return pa.Array.from_buffers(pa.decimal128(18, exponent), len(v),
                                 [None, pa.py_buffer(words)])


def _money_type(fmt: str, exponent: int) -> pa.DataType:
    return pa.int64() if fmt == "parquet" else pa.decimal128(18, exponent)


def _tx_schema(fmt: str, exponent: int) -> pa.Schema:
    return pa.schema([
        ("transaction_id", pa.string()), ("account_id", _DICT), ("booking_date", pa.date32()),
        ("amount", _money_type(fmt, exponent)), ("label", _DICT), ("counterparty_name", _DICT),
        ("counterparty_iban", _DICT), ("purpose", _DICT), ("mcc", _DICT),
    ])


@functools.lru_cache(maxsize=8)
def _dictionaries(purposes: tuple[str, ...]) -> dict[str, pa.Array]:
    cat = _catalog()
    # Duplicates in an Arrow dictionary make the Parquet writer's output
    # depend on earlier writes (seen with pyarrow 26): keep them unique.
    for values in (LABELS, cat.names, iban_pool(), purposes, cat.mccs):
        assert len(set(values)) == len(values)
    return {
        "label": pa.array(LABELS, pa.string()), "names": pa.array(cat.names, pa.string()),
        "iban": pa.array(iban_pool(), pa.string()), "purpose": pa.array(purposes, pa.string()),
        "mcc": pa.array(cat.mccs, pa.string()),
    }


def _tx_table(P: _Plan, cols: dict[str, np.ndarray], a0: int, a1: int, t0: int,
              fmt: str) -> pa.Table:
    dicts = _dictionaries(tuple(P.purposes))
    n = len(cols["acc"])
    acc_ids = _fixed_ids("a", a0, a1 - a0, _id_width(P.n_accounts))
    return pa.Table.from_arrays([
        _fixed_ids("t", t0, n, P.id_width),
        pa.DictionaryArray.from_arrays(pa.array(cols["acc"].astype(np.int32)), acc_ids),
        pa.array(cols["d"].astype(np.int32), pa.int32()).view(pa.date32()),
        _money(cols["amt"], fmt, P.exponent),
        _dict_col(cols["lab"], dicts["label"]),
        _dict_col(cols["nm"], dicts["names"]),
        _dict_col(cols["ib"], dicts["iban"]),
        _dict_col(cols["pu"], dicts["purpose"]),
        _dict_col(cols["mc"], dicts["mcc"]),
    ], schema=_tx_schema(fmt, P.exponent))


def _id_width(n: int) -> int:
    return max(7, len(str(max(n - 1, 0))))


def _accounts_table(P: _Plan, balances: np.ndarray, fmt: str) -> pa.Table:
    n = P.n_accounts
    closed = P.acc_closed
    return pa.Table.from_arrays([
        _fixed_ids("a", 0, n, _id_width(n)),
        pa.DictionaryArray.from_arrays(pa.array(P.acc_user.astype(np.int32)),
                                       _fixed_ids("u", 0, P.n_users, _id_width(P.n_users))),
        pa.DictionaryArray.from_arrays(pa.array(P.acc_type.astype(np.int32)),
                                       pa.array(ACCOUNT_TYPES)),
        pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)),
                                       pa.array([P.params.currency])),
        _money(balances, fmt, P.exponent),
        pa.array(np.full(n, P.end, np.int32), pa.int32()).view(pa.date32()),
        pa.array(P.acc_opened.astype(np.int32), pa.int32()).view(pa.date32()),
        pa.array(closed.astype(np.int32), pa.int32(), mask=closed < 0).view(pa.date32()),
    ], schema=pa.schema([
        ("account_id", pa.string()), ("user_id", _DICT), ("type", _DICT), ("currency", _DICT),
        ("balance", _money_type(fmt, P.exponent)), ("balance_date", pa.date32()),
        ("opened_on", pa.date32()), ("closed_on", pa.date32()),
    ]))


class _Writer:
    def __init__(self, path: Path, schema: pa.Schema, fmt: str) -> None:
        self.fmt = fmt
        if fmt == "parquet":
            dict_cols = [f.name for f in schema if pa.types.is_dictionary(f.type)]
            # No Arrow schema in the file: readers see plain strings, not dictionaries.
            self.w: pq.ParquetWriter | pacsv.CSVWriter = pq.ParquetWriter(
                path, schema, compression="snappy", use_dictionary=dict_cols, store_schema=False)
        else:
            self.w = pacsv.CSVWriter(str(path), schema)

    def write(self, table: pa.Table) -> None:
        if self.fmt == "parquet":
            assert isinstance(self.w, pq.ParquetWriter)
            self.w.write_table(table, row_group_size=max(table.num_rows, 1))
        else:
            self.w.write_table(table)

    def close(self) -> None:
        self.w.close()


def generate_bank(out_dir: Path, params: BankParams, fmt: str = "parquet",
                  progress: Callable[[int], None] | None = None) -> dict:
    """Writes out_dir/accounts.<ext> and out_dir/transactions.<ext> (ext = csv or
    parquet); returns {'users': n, 'accounts': n, 'transactions': n}.
    progress(k) is called with the number of transactions written since the
    last call."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be 'parquet' or 'csv', not {fmt!r}")
    out_dir = Path(out_dir)
    P = _plan(params)
    out_dir.mkdir(parents=True, exist_ok=True)
    balances = np.zeros(P.n_accounts, dtype=np.int64)
    writer = _Writer(out_dir / f"transactions.{fmt}", _tx_schema(fmt, P.exponent), fmt)
    written = 0
    try:
        # Encoding chunk i (Arrow/Parquet, outside the GIL) overlaps with
        # generating chunk i+1; at most two chunks are alive at a time.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending: tuple[Future, int] | None = None
            for ci in range(len(P.chunk_users) - 1):
                chunk = _gen_chunk(P, ci, written, fmt)
                balances[chunk.a0: chunk.a0 + len(chunk.balances)] = chunk.balances
                written += chunk.n_rows
                if pending is not None:
                    pending[0].result()
                    if progress is not None:
                        progress(pending[1])
                pending = (pool.submit(writer.write, chunk.table), chunk.n_rows)
                del chunk
            if pending is not None:
                pending[0].result()
                if progress is not None:
                    progress(pending[1])
    finally:
        writer.close()
    accounts = _accounts_table(P, balances, fmt)
    aw = _Writer(out_dir / f"accounts.{fmt}", accounts.schema, fmt)
    try:
        aw.write(accounts)
    finally:
        aw.close()
    return {"users": P.n_users, "accounts": P.n_accounts, "transactions": written}
