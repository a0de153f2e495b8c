"""Class labels of labelled text: their names, and each row's class id, with errors naming the row."""

from __future__ import annotations

from textrnn.errors import UserError


def find_label_names(given: list[str] | None, train_labels: list) -> list[str]:
    """The class names: ``given``, else the sorted labels found in train (at least two)."""
    if given:
        return list(given)
    found = sorted(set(train_labels))
    if len(found) < 2:
        raise UserError(f"the training labels hold {len(found)} class(es); a classifier needs at least 2")
    return [str(label) for label in found]


def label_ids(labels: list, names: list[str], ints_are_ids: bool, where: str) -> list[int]:
    """Map raw labels (ints, or strings equal to a label name) to class ids; ``ints_are_ids`` when the names
    were given, so that int label ``i`` is class ``i``."""
    index = {name: i for i, name in enumerate(names)}
    ids = []
    for row, label in enumerate(labels, 1):
        if isinstance(label, str):
            i = index.get(label)
        elif ints_are_ids:
            i = label if isinstance(label, int) and 0 <= label < len(names) else None
        else:
            i = index.get(str(label))
        if i is None:
            raise UserError(f"{where} row {row}: label {label!r} is not one of {names}")
        ids.append(i)
    return ids
