"""A workload that exercises Llama Stack and the model servers: agent sessions with tools and RAG, then load."""
