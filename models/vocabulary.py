"""The closed vocabularies of the wire contract: every categorical value a
pole may send, and every capability a pole may have.

StrEnums, so a value is its wire string everywhere (JSON, SQL, the API) and
the catalogue, the wire models, the API and the dashboards name one class
instead of repeating string literals.
"""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    """What a pole has installed; each implies the families it publishes
    (`models.catalogue.CAPABILITY_FAMILIES`)."""

    ENV = "env"
    LIGHT = "light"
    WIFI = "wifi"
    EV = "ev"


class PowerState(StrEnum):
    """FIWARE Streetlight powerState; "low" means dimmed."""

    ON = "on"
    OFF = "off"
    LOW = "low"
    BOOTING_UP = "bootingUp"


class LampStatus(StrEnum):
    """FIWARE Streetlight status: anything but ok is a lamp fault."""

    OK = "ok"
    DEFECTIVE_LAMP = "defectiveLamp"
    COLUMN_ISSUE = "columnIssue"
    BROKEN_LANTERN = "brokenLantern"


class WifiStatus(StrEnum):
    UP = "up"
    DOWN = "down"
    DEGRADED = "degraded"


class PoleConnection(StrEnum):
    """The retained status topic (and the MQTT last-will, which says offline)."""

    ONLINE = "online"
    OFFLINE = "offline"


class Connectivity(StrEnum):
    """What the platform knows of a pole's connection: what its status topic said,
    or unknown for a pole that was registered but never heard from."""

    ONLINE = "online"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


class OcppStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class OcppErrorCode(StrEnum):
    """OCPP 1.6 ChargePointErrorCode."""

    NO_ERROR = "NoError"
    CONNECTOR_LOCK_FAILURE = "ConnectorLockFailure"
    EV_COMMUNICATION_ERROR = "EVCommunicationError"
    GROUND_FAILURE = "GroundFailure"
    HIGH_TEMPERATURE = "HighTemperature"
    INTERNAL_ERROR = "InternalError"
    LOCAL_LIST_CONFLICT = "LocalListConflict"
    OTHER_ERROR = "OtherError"
    OVER_CURRENT_FAILURE = "OverCurrentFailure"
    OVER_VOLTAGE = "OverVoltage"
    POWER_METER_FAILURE = "PowerMeterFailure"
    POWER_SWITCH_FAILURE = "PowerSwitchFailure"
    READER_FAILURE = "ReaderFailure"
    RESET_FAILURE = "ResetFailure"
    UNDER_VOLTAGE = "UnderVoltage"
    WEAK_SIGNAL = "WeakSignal"


class PlugType(StrEnum):
    """Socket or plug of a charging connector: FIWARE EVChargingStation `socketType`
    (Mennekes is the colloquial name of Type2, J-1772 of Type 1, CCS/SAE the
    combined DC plug, Wall_Euro the domestic Schuko socket)."""

    TYPE2 = "Type2"
    CCS_SAE = "CCS/SAE"
    CHADEMO = "CHAdeMO"
    J1772 = "J-1772"
    MENNEKES = "Mennekes"
    TYPE3 = "Type3"
    WALL_EURO = "Wall_Euro"
    TESLA = "Tesla"
    CARAVAN_MAINS_SOCKET = "Caravan_Mains_Socket"
    DUAL_CHADEMO = "Dual_CHAdeMO"
    DUAL_J1772 = "Dual_J-1772"
    DUAL_MENNEKES = "Dual_Mennekes"
    OTHER = "Other"
