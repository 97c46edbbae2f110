"""llm-observability: read the stack's settings, build the environment, export what users need."""

import pulumi

from stack import config, environment

env = environment.build(config.load())
for key, value in env.outputs.items():
    pulumi.export(key, value)
