"""Generate text from a character-level checkpoint (the same as the ``textrnn-generate`` command).

python scripts/generate.py --checkpoint CKPT --prompt "ROMEO:" --length 300 --seed 1
"""

from textrnn.inference.generate import main

if __name__ == "__main__":
    main()
