"""Model copies on this host: the parent's side (parent: CopyGroup, CopyPool), the
copy's side (child), the messages both speak (protocol), and what the copies are fed:
input batches (feeds), held in shared memory (shm), and the expected outputs they
check (validation). The local executor drives them; nothing here knows of plans or
reports."""
