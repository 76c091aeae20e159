/* main.c - placeholder until the server lands. */
#include <stdio.h>
int main(void) { return 0; }
