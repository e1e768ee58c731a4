# Write a file's bytes as a C array: cmake -DINPUT=f -DOUTPUT=f.c -DNAME=sym -P embed.cmake
# gives `const char sym[]` (NUL-terminated) and `const size_t sym_len`.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR n "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}" "/* Generated from ${INPUT} by cmake/embed.cmake. */\n#include <stddef.h>\n"
     "const char ${NAME}[] = {\n${bytes}0};\nconst size_t ${NAME}_len = ${n};\n")
