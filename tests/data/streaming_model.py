"""A generator model for the CLI tests: streams max_new_tokens ids, 1 ms before the first."""

import time


class Model:
    def __call__(self, input_ids, max_new_tokens):
        time.sleep(0.001)
        yield from range(int(max_new_tokens))
