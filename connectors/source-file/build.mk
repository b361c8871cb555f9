LIBS_source-file = -lz -lzstd -lbz2 -lcsv -lyajl
