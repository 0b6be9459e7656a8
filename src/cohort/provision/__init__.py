"""Provisioning: the project CA, participants' startup kits, and one-machine POC workspaces."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cohort import lazy
from cohort.provision.ca import (
    CA_VALID_DAYS,
    PARTICIPANT_VALID_DAYS,
    ROLES,
    CertificateAuthority,
    IssuedCert,
    Role,
    validate_name,
    write_private_file,
)
from cohort.provision.kit import KIT_FILE, Kit, KitConfig, KitKind, create_kit, load_kit

if TYPE_CHECKING:
    from cohort.provision.poc import (
        POC_FILE,
        POC_ORG,
        PocLayout,
        free_port,
        load_poc,
        prepare_poc,
    )

# The POC names load on first use: cohort.provision.poc pulls in project files (YAML) and the
# provisioner, which every site script and job process paid for just to read its kit.
__getattr__ = lazy.lazy_names(
    globals(),
    dict.fromkeys(
        ["POC_FILE", "POC_ORG", "PocLayout", "free_port", "load_poc", "prepare_poc"],
        "cohort.provision.poc",
    ),
)

__all__ = [
    "CA_VALID_DAYS",
    "KIT_FILE",
    "PARTICIPANT_VALID_DAYS",
    "POC_FILE",
    "POC_ORG",
    "ROLES",
    "CertificateAuthority",
    "IssuedCert",
    "Kit",
    "KitConfig",
    "KitKind",
    "PocLayout",
    "Role",
    "create_kit",
    "free_port",
    "load_kit",
    "load_poc",
    "prepare_poc",
    "validate_name",
    "write_private_file",
]
