"""IAM documents the components share."""

from __future__ import annotations

import json
from typing import Sequence


def assume_role_policy(service: str, actions: Sequence[str] = ("sts:AssumeRole",)) -> str:
    """A trust policy that lets one AWS service principal assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": list(actions)}],
        }
    )
