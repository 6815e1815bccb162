/* token.h - `sendpath token new`: a fresh bearer token and its token-file line. */
#ifndef CLI_TOKEN_H
#define CLI_TOKEN_H

int cli_token(int argc, char **argv);

#endif
