"""The text conditioning's ceiling: does the frozen encoder's output tell apart what the prompt says?

The denoiser reads the prompt only through the text encoder's per-token states. If
a linear probe on those states cannot recover a fact (how many, which colour goes
with which shape, which object is on the left), no amount of denoiser training
will draw it. Three probes, each a logistic regression trained on 3,000 world
captions and scored on 1,000 others (all phrasing styles, shapes, colours drawn
at random):

- count: the number in "three red circles" / "7 blue stars" (2 to 8);
- colour binding: the colour of the circle in a two-object caption, e.g.
  "a red circle and a blue square" or "a blue square to the left of a red circle";
- position: where the circle is relative to the other object (left, right, above,
  below), e.g. "a square to the left of a circle" means the circle is on the right.

Features: the mean of the token states; the state at the circle's own token (what
a cross-attention query could pick out); and, as the floor, a bag of words (which
knows the colours and the relation word but not which object they belong to).

    python bench/text_probe.py                  # the table
    python bench/text_probe.py --train 1000 --test 500
"""

from __future__ import annotations

import argparse
import random

import numpy as np
import torch

from pixeldrift.world.caption import STYLES, caption
from pixeldrift.world.spec import COLOURS, MAX_OBJECTS, SHAPES, ObjectGroup, ObjectsScene

OTHER_SHAPES = [s for s in SHAPES if s != "circle"]
DIRECTIONS = {"left of": "right", "right of": "left", "above": "below", "below": "above"}


def count_example(rng: random.Random) -> tuple[str, str, str]:
    count = rng.randint(2, MAX_OBJECTS)
    shape = rng.choice(SHAPES)
    spec = ObjectsScene((ObjectGroup(shape=shape, colour=rng.choice(COLOURS), count=count),))
    return caption(spec, rng.choice(STYLES)), str(count), shape


def _circle_and_other(rng: random.Random) -> tuple[ObjectGroup, ObjectGroup]:
    colour, other_colour = rng.sample(COLOURS, 2)
    return (ObjectGroup(shape="circle", colour=colour),
            ObjectGroup(shape=rng.choice(OTHER_SHAPES), colour=other_colour))


def binding_example(rng: random.Random) -> tuple[str, str, str]:
    circle, other = _circle_and_other(rng)
    groups = (circle, other) if rng.random() < 0.5 else (other, circle)
    relation = rng.choice([None, *DIRECTIONS])
    style = rng.choice([s for s in STYLES if s != "bare"])  # "bare" drops the colours
    return caption(ObjectsScene(groups, relation=relation), style), circle.colour, "circle"


def position_example(rng: random.Random) -> tuple[str, str, str]:
    circle, other = _circle_and_other(rng)
    relation = rng.choice(list(DIRECTIONS))
    circle_first = rng.random() < 0.5
    groups = (circle, other) if circle_first else (other, circle)
    # "A left of B": A is left. The circle's side is the relation if it is A, the opposite if it is B.
    side = relation.split()[0] if circle_first else DIRECTIONS[relation]
    return caption(ObjectsScene(groups, relation=relation), rng.choice(STYLES)), side, "circle"


PROBES = {"count (2-8)": count_example, "colour of the circle": binding_example,
          "where the circle is": position_example}


@torch.no_grad()
def token_features(encoder, texts: list[str], words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the real tokens' states, and the state at the first piece of `word` in each text."""
    means, at_word = [], []
    for start in range(0, len(texts), 64):
        chunk, chunk_words = texts[start:start + 64], words[start:start + 64]
        encoding = encoder.encode(chunk)
        mask = encoding.context_mask.float()
        means.append((encoding.context.sum(1) / mask.sum(1, keepdim=True)).numpy())
        for row, (text, word) in enumerate(zip(chunk, chunk_words)):
            pieces = encoder.tokenizer.encode(text).tokens
            index = next(i for i, p in enumerate(pieces) if p.lstrip("#")[:4] == word[:4])
            at_word.append(encoding.context[row, index].numpy())
    return np.concatenate(means), np.stack(at_word)


def bag_of_words(train: list[str], test: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.feature_extraction.text import CountVectorizer
    vectorizer = CountVectorizer(token_pattern=r"[A-Za-z0-9:']+").fit(train)
    return vectorizer.transform(train), vectorizer.transform(test)


def accuracy(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    classifier = LogisticRegression(max_iter=2000).fit(train_x, train_y)
    return float((classifier.predict(test_x) == np.array(test_y)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder
    encoder = MiniLMTextEncoder().eval()
    print("| probe | classes | chance | bag of words | MiniLM, mean of tokens | MiniLM, at the shape's token |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, make in PROBES.items():
        rng = random.Random(name)
        texts, labels, words = zip(*(make(rng) for _ in range(args.train + args.test)))
        split = args.train
        mean, at_word = token_features(encoder, list(texts), list(words))
        bag_train, bag_test = bag_of_words(list(texts[:split]), list(texts[split:]))
        y_train, y_test = labels[:split], labels[split:]
        classes = sorted(set(labels))
        chance = max(y_test.count(c) for c in classes) / len(y_test)
        scores = [accuracy(bag_train, y_train, bag_test, y_test),
                  accuracy(mean[:split], y_train, mean[split:], y_test),
                  accuracy(at_word[:split], y_train, at_word[split:], y_test)]
        print(f"| {name} | {len(classes)} | {100 * chance:.1f}% | " + " | ".join(f"{100 * s:.1f}%" for s in scores)
              + " |")


if __name__ == "__main__":
    main()
