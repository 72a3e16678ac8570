/* main.c: acmegate-agent, placeholder until the agent lands. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "acmegate-agent: not built yet\n");
	return 1;
}
