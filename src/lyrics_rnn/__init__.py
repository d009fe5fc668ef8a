"""Character-level RNN language models on the Jay Chou lyrics, after the RNN chapter of d2l."""
