"""Training for the answer stage's models (``clinrag train verdict|support|generator|answerability``).

- ``pubmedqa`` and ``corpus``: the data the trainers share (PubMedQA records and their one
  split; the PubMedQA* retrieval index the heads and the gate are mined from).
- ``heads_mining``, ``heads_train``, ``heads_card``: the verdict and support classifiers.
- ``generator_examples``, ``generator_train``, ``generator_card``: the LoRA generator.
- ``answerability``: the abstention gate.

Nothing in the answer path imports this package; it imports the answer path's modules so that
training and inference build their inputs the same way.
"""
