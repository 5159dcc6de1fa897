"""Building blocks: how one reusable thing is made (layers in stacks/ say what the platform has)."""
